# Install (or update) the roomwatch agent as a Windows service with WinSW.
# Run as Administrator on the recording-room PC, from a folder holding:
#   roomwatch-agent.exe   (build-agent.ps1)
#   WinSW-x64.exe         (download from https://github.com/winsw/winsw/releases)
#   roomwatch-agent.xml   (this folder)
#   agent.yaml            (the room's config; state_dir: C:\ProgramData\roomwatch\state)
#
#   powershell -ExecutionPolicy Bypass -File install-agent.ps1
$ErrorActionPreference = "Stop"
$here = Split-Path -Parent $MyInvocation.MyCommand.Path
$bin = "C:\Program Files\roomwatch"
$data = "C:\ProgramData\roomwatch"
$service = "roomwatch-agent"

if (Get-Service $service -ErrorAction SilentlyContinue) {
    Stop-Service $service                     # the spool stays in $data\state
}
New-Item -ItemType Directory -Force -Path $bin, $data, "$data\state", "$data\logs" | Out-Null
Copy-Item "$here\roomwatch-agent.exe" "$bin\roomwatch-agent.exe" -Force
Copy-Item "$here\WinSW-x64.exe" "$bin\$service-service.exe" -Force
Copy-Item "$here\roomwatch-agent.xml" "$bin\$service-service.xml" -Force
if (-not (Test-Path "$data\agent.yaml")) {
    Copy-Item "$here\agent.yaml" "$data\agent.yaml"
}

# agent.yaml holds the MQTT password: only the service account, SYSTEM and Administrators
# may read it; the state and log folders likewise.
foreach ($path in "$data\state", "$data\logs") {
    icacls $path /inheritance:r /grant:r "SYSTEM:(OI)(CI)F" "Administrators:(OI)(CI)F" `
        "NT AUTHORITY\LocalService:(OI)(CI)M" | Out-Null
}
icacls "$data\agent.yaml" /inheritance:r /grant:r "SYSTEM:F" "Administrators:F" `
    "NT AUTHORITY\LocalService:R" | Out-Null

& "$bin\roomwatch-agent.exe" --config "$data\agent.yaml" --check
if ($LASTEXITCODE -ne 0) { throw "agent.yaml is not valid; nothing was started" }

if (-not (Get-Service $service -ErrorAction SilentlyContinue)) {
    & "$bin\$service-service.exe" install
}
Start-Service $service
Get-Service $service
