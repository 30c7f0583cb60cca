"""What several integration test modules share: the scripted conversations and their data, the
WebSocket client helpers and the events API Gateway really sent. Test modules import from here (and
get the fixtures from conftest.py), never from one another."""
