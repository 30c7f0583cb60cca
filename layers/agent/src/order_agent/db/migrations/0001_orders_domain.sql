-- The orders domain, modelled on the τ-bench retail data set.
-- Lists keep their order through `position` columns and dictionaries their insertion order
-- through `seq`, so that an export reproduces the loaded JSON exactly.

CREATE TABLE users (
    user_id     text PRIMARY KEY,
    seq         bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    first_name  text NOT NULL,
    last_name   text NOT NULL,
    email       text NOT NULL CHECK (email LIKE '%_@_%'),
    address1    text NOT NULL,
    address2    text NOT NULL,
    city        text NOT NULL,
    country     text NOT NULL,
    state       text NOT NULL,
    zip         text NOT NULL
);
CREATE UNIQUE INDEX users_email_ci_key ON users (lower(email));
CREATE INDEX users_name_zip_idx ON users (lower(first_name), lower(last_name), zip);

CREATE TABLE payment_methods (
    payment_method_id text PRIMARY KEY,
    seq               bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id           text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    source            text NOT NULL CHECK (source IN ('credit_card', 'paypal', 'gift_card')),
    brand             text,
    last_four         text CHECK (last_four ~ '^[0-9]{4}$'),
    balance           numeric(12, 2) CHECK (balance >= 0),
    UNIQUE (user_id, payment_method_id),
    CHECK ((source = 'gift_card') = (balance IS NOT NULL)),
    CHECK ((source = 'credit_card') = (brand IS NOT NULL AND last_four IS NOT NULL))
);

CREATE TABLE products (
    product_id text PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    name       text NOT NULL
);

CREATE TABLE variants (
    item_id    text PRIMARY KEY,
    seq        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    product_id text NOT NULL REFERENCES products (product_id) ON DELETE CASCADE,
    -- json, not jsonb: option names keep their order
    options    json NOT NULL,
    available  boolean NOT NULL,
    price      numeric(12, 2) NOT NULL CHECK (price >= 0),
    UNIQUE (product_id, item_id)
);

CREATE TABLE orders (
    order_id                   text PRIMARY KEY,
    seq                        bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
    user_id                    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    status                     text NOT NULL CHECK (status IN (
        'pending', 'processed', 'delivered', 'cancelled',
        'pending (item modified)', 'return requested', 'exchange requested')),
    address1                   text NOT NULL,
    address2                   text NOT NULL,
    city                       text NOT NULL,
    country                    text NOT NULL,
    state                      text NOT NULL,
    zip                        text NOT NULL,
    cancel_reason              text CHECK (cancel_reason IN ('no longer needed', 'ordered by mistake')),
    exchange_items             text[],
    exchange_new_items         text[],
    exchange_payment_method_id text,
    exchange_price_difference  numeric(12, 2),
    return_items               text[],
    return_payment_method_id   text,
    UNIQUE (order_id, user_id),
    -- a refund or an exchange can only go to a payment method of the order's own customer
    FOREIGN KEY (user_id, exchange_payment_method_id) REFERENCES payment_methods (user_id, payment_method_id),
    FOREIGN KEY (user_id, return_payment_method_id) REFERENCES payment_methods (user_id, payment_method_id),
    CHECK (cancel_reason IS NULL OR status = 'cancelled'),
    CHECK ((exchange_items IS NULL) = (exchange_new_items IS NULL)),
    CHECK (cardinality(exchange_items) = cardinality(exchange_new_items))
);
CREATE INDEX orders_user_idx ON orders (user_id, seq);

CREATE TABLE order_items (
    order_id   text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    position   integer NOT NULL CHECK (position >= 0),
    name       text NOT NULL,
    product_id text NOT NULL,
    item_id    text NOT NULL,
    price      numeric(12, 2) NOT NULL CHECK (price >= 0),
    options    json NOT NULL,
    PRIMARY KEY (order_id, position),
    FOREIGN KEY (product_id, item_id) REFERENCES variants (product_id, item_id)
);

CREATE TABLE order_fulfillments (
    order_id     text NOT NULL REFERENCES orders (order_id) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    tracking_ids text[] NOT NULL,
    item_ids     text[] NOT NULL,
    PRIMARY KEY (order_id, position)
);

CREATE TABLE order_payments (
    order_id          text NOT NULL,
    position          integer NOT NULL CHECK (position >= 0),
    user_id           text NOT NULL,
    transaction_type  text NOT NULL CHECK (transaction_type IN ('payment', 'refund')),
    amount            numeric(12, 2) NOT NULL CHECK (amount >= 0),
    payment_method_id text NOT NULL,
    PRIMARY KEY (order_id, position),
    FOREIGN KEY (order_id, user_id) REFERENCES orders (order_id, user_id) ON DELETE CASCADE,
    FOREIGN KEY (user_id, payment_method_id) REFERENCES payment_methods (user_id, payment_method_id)
);

-- Every write a tool made, keyed by its idempotency key: a retry returns the stored result.
CREATE TABLE tool_writes (
    idempotency_key text PRIMARY KEY,
    session_id      text NOT NULL,
    customer_id     text,
    tool_name       text NOT NULL,
    request_hash    text NOT NULL,
    result          jsonb,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tool_writes_session_idx ON tool_writes (session_id, created_at);

-- Conversations handed to a human agent.
CREATE TABLE handoffs (
    handoff_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id  text NOT NULL,
    customer_id text REFERENCES users (user_id) ON DELETE SET NULL,
    summary     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- The τ JSON shape of each record, built in one statement: a tool's read is one round trip,
-- and the export uses the same definitions. Absent optional fields are omitted, as in τ.
CREATE VIEW order_documents AS
SELECT o.order_id, o.user_id, o.seq, json_strip_nulls(json_build_object(
    'order_id', o.order_id,
    'user_id', o.user_id,
    'address', json_build_object('address1', o.address1, 'address2', o.address2, 'city', o.city,
                                 'country', o.country, 'state', o.state, 'zip', o.zip),
    'items', coalesce((
        SELECT json_agg(json_build_object('name', i.name, 'product_id', i.product_id,
                                          'item_id', i.item_id, 'price', i.price,
                                          'options', i.options) ORDER BY i.position)
        FROM order_items i WHERE i.order_id = o.order_id), '[]'::json),
    'status', o.status,
    'fulfillments', coalesce((
        SELECT json_agg(json_build_object('tracking_id', to_json(f.tracking_ids),
                                          'item_ids', to_json(f.item_ids)) ORDER BY f.position)
        FROM order_fulfillments f WHERE f.order_id = o.order_id), '[]'::json),
    'payment_history', coalesce((
        SELECT json_agg(json_build_object('transaction_type', p.transaction_type, 'amount', p.amount,
                                          'payment_method_id', p.payment_method_id) ORDER BY p.position)
        FROM order_payments p WHERE p.order_id = o.order_id), '[]'::json),
    'cancel_reason', o.cancel_reason,
    'exchange_items', to_json(o.exchange_items),
    'exchange_new_items', to_json(o.exchange_new_items),
    'exchange_payment_method_id', o.exchange_payment_method_id,
    'exchange_price_difference', o.exchange_price_difference,
    'return_items', to_json(o.return_items),
    'return_payment_method_id', o.return_payment_method_id
)) AS document
FROM orders o;

CREATE VIEW user_documents AS
SELECT u.user_id, u.seq, json_build_object(
    'user_id', u.user_id,
    'name', json_build_object('first_name', u.first_name, 'last_name', u.last_name),
    'address', json_build_object('address1', u.address1, 'address2', u.address2, 'city', u.city,
                                 'country', u.country, 'state', u.state, 'zip', u.zip),
    'email', u.email,
    'payment_methods', coalesce((
        SELECT json_object_agg(pm.payment_method_id, json_strip_nulls(json_build_object(
                   'source', pm.source, 'id', pm.payment_method_id, 'brand', pm.brand,
                   'last_four', pm.last_four, 'balance', pm.balance)) ORDER BY pm.seq)
        FROM payment_methods pm WHERE pm.user_id = u.user_id), '{}'::json),
    'orders', coalesce((
        SELECT json_agg(o.order_id ORDER BY o.seq) FROM orders o WHERE o.user_id = u.user_id), '[]'::json)
) AS document
FROM users u;

CREATE VIEW product_documents AS
SELECT p.product_id, p.seq, json_build_object(
    'name', p.name,
    'product_id', p.product_id,
    'variants', coalesce((
        SELECT json_object_agg(v.item_id, json_build_object('item_id', v.item_id, 'options', v.options,
                                                            'available', v.available, 'price', v.price)
                               ORDER BY v.seq)
        FROM variants v WHERE v.product_id = p.product_id), '{}'::json)
) AS document
FROM products p;
