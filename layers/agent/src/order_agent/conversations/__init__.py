"""The conversation store: one DynamoDB table (and an S3 bucket for checkpoints too big for an
item) that the agent and the edge share. Every item kind, with the module that writes it:

    CHECKPOINT_* / WRITES_* / CHUNK_*     LangGraph's checkpoints of a session (checkpoints.py)
    CONN_<connectionId>  / CONN           who is connected (principal), for $disconnect and audits
    SESSION_<sessionId>  / META           owner principal, current connection, last frame seq, the
                                          lease of the turn running and the message it answers
                                          (lock.py) and the keys of the latest checkpoint's items (turn.py)
    OUTBOX_<sessionId>   / <seq, padded>  the frames a client must not miss (message, done, error)
    MSG_<sessionId>      / <messageId>    a customer message answered: its frames, for a retry of it
    RATE_<principal key> / <window start> customer messages in one rate window: `total`, and one
                                          `c_<connectionId>` count per connection of that principal

The last five are the edge's records (sessions.py); a turn's requests are folded into four, three
in a new session (turn.py). Every key is built in table.py, so no two kinds can collide, and all
items carry `ttl`, so the table's TTL removes them with the conversation.
Nothing here loads LangGraph (the $connect and $disconnect functions import this package).
"""

from order_agent.conversations.checkpoints import checkpointer, reads_reused
from order_agent.conversations.lock import SessionLock
from order_agent.conversations.sessions import Claim, EdgeStore, RateLimited, SessionOwnedByAnother
from order_agent.conversations.table import STORE_ERRORS, dynamodb_client

__all__ = [
    "STORE_ERRORS",
    "Claim",
    "EdgeStore",
    "RateLimited",
    "SessionLock",
    "SessionOwnedByAnother",
    "checkpointer",
    "dynamodb_client",
    "reads_reused",
]
