# Build roomwatch-agent.exe with PyInstaller. Run on Windows (x64) from the repository root
# with Python 3.11 installed (py launcher). PyInstaller cannot cross-compile: this step only
# works on Windows. Output: dist\roomwatch-agent.exe (one file, no Python needed on the PC).
#
#   powershell -ExecutionPolicy Bypass -File deploy\windows\build-agent.ps1
$ErrorActionPreference = "Stop"

py -3.11 -m venv .venv-build
.\.venv-build\Scripts\python.exe -m pip install --upgrade pip
# The agent-only install (no collector extra: no FastAPI, SQLAlchemy or WeasyPrint/GTK on a
# room PC) with the snmpv3 extra, since one executable serves rooms with and without SNMPv3.
.\.venv-build\Scripts\python.exe -m pip install ".[snmpv3]" "pyinstaller>=6"

# --collect-data roomwatch.agent : the device profiles (agent/profiles/*.yaml)
# --collect-all pysnmp : pysnmp loads its MIB modules from files at run time
.\.venv-build\Scripts\pyinstaller.exe `
    --noconfirm --clean --onefile --console `
    --name roomwatch-agent `
    --collect-data roomwatch.agent `
    --collect-all pysnmp `
    --collect-submodules roomwatch.agent `
    deploy\windows\roomwatch_agent_entry.py

.\dist\roomwatch-agent.exe --version
