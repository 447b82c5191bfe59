"""Test support shared by every test module (the workspace the CLI runs in, the in-process
engine harness, the PowerShell replayer, a recording reporter): imported as `support.*`
(tests/ is on pytest's pythonpath), never through conftest."""
