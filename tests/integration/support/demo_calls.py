"""Arguments with which each tool succeeds on the demo data, as Ana (ana_lima_1001) where a customer is
needed: the tests that run every tool (policy rules, round trips) share them."""

from __future__ import annotations

ANA = "ana_lima_1001"
ADDRESS = {"address1": "12 Elm Street", "address2": "", "city": "Denver", "state": "CO", "country": "USA",
           "zip": "80202"}  # fmt: skip

WRITE_CALLS = {
    "cancel_pending_order": {"order_id": "#W1000001", "reason": "no longer needed"},
    "modify_pending_order_address": {"order_id": "#W1000001", **ADDRESS},
    "modify_pending_order_items": {"order_id": "#W1000001", "item_ids": ["8100000011"],
                                   "new_item_ids": ["8100000012"], "payment_method_id": "gift_card_1001002"},
    "modify_pending_order_payment": {"order_id": "#W1000001", "payment_method_id": "gift_card_1001002"},
    "modify_user_address": {"user_id": ANA, **ADDRESS},
    "return_delivered_order_items": {"order_id": "#W1000002", "item_ids": ["8300000031"],
                                     "payment_method_id": "gift_card_1001002"},
    "exchange_delivered_order_items": {"order_id": "#W1000002", "item_ids": ["8300000031"],
                                       "new_item_ids": ["8300000032"], "payment_method_id": "gift_card_1001002"},
}  # fmt: skip

OTHER_CALLS = {
    "find_user_id_by_email": {"email": "ana.lima@example.com"},
    "find_user_id_by_name_zip": {"first_name": "Ana", "last_name": "Lima", "zip": "94105"},
    "get_user_details": {"user_id": ANA},
    "get_order_details": {"order_id": "#W1000001"},
    "get_product_details": {"product_id": "8000000001"},
    "get_item_details": {"item_id": "8100000011"},
    "list_all_product_types": {},
    "calculate": {"expression": "2 + 2"},
    "transfer_to_human_agents": {"summary": "The customer asks for a person."},
}

SUCCESSFUL_CALLS = {**OTHER_CALLS, **WRITE_CALLS}
