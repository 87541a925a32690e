"""The agent's SNMP side: ``client`` (requests: v2c GET/GETBULK through the agent's own
codec, ``ber`` and ``v2c``; SNMPv3 and SET through pysnmp, ``pysnmp_path``), ``profile``
(device profiles as YAML data, ``ProfileRegistry``), ``readings`` (raw values -> metrics,
counter rates), ``poller`` (``SnmpPoller``: every device, concurrently, one
``DeviceSample`` each) and ``traps`` (the trap receiver, pysnmp)."""
