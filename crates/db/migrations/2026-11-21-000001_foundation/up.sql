-- Roles and sources are short text with CHECKs rather than PG enums: adding a value
-- later is then a plain migration, and diesel needs no custom SQL types.
CREATE TABLE users (
    id          uuid PRIMARY KEY,
    name        text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 64),
    role        text NOT NULL CHECK (role IN ('ADMIN', 'MEMBER')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE api_tokens (
    id            uuid PRIMARY KEY,
    user_id       uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- SHA-256 of the token: tokens carry 256 random bits, so a fast hash is enough.
    token_hash    bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    revoked_at    timestamptz
);
CREATE INDEX api_tokens_user_id ON api_tokens (user_id);

CREATE TABLE images (
    id                        uuid PRIMARY KEY,
    owner_id                  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    -- Names the stored objects; changes when the content is replaced so media URLs
    -- and caches never serve stale bytes under the same key.
    content_id                uuid NOT NULL,
    content_type              text NOT NULL,
    width                     integer NOT NULL CHECK (width > 0),
    height                    integer NOT NULL CHECK (height > 0),
    byte_size                 bigint NOT NULL CHECK (byte_size > 0),
    thumbnail_content_type    text NOT NULL,
    description               text,
    analysis_status           text NOT NULL DEFAULT 'NOT_REQUESTED'
        CHECK (analysis_status IN ('NOT_REQUESTED', 'PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED')),
    analysis_model            text,
    analysis_error            text,
    analysis_requested_at     timestamptz,
    analysis_completed_at     timestamptz,
    source                    text NOT NULL DEFAULT 'UPLOAD' CHECK (source IN ('UPLOAD', 'GENERATION', 'EDIT')),
    prompt                    text,
    parent_id                 uuid REFERENCES images (id) ON DELETE SET NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    edited_at                 timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX images_feed ON images (created_at DESC, id DESC);
CREATE INDEX images_parent ON images (parent_id, created_at DESC, id DESC) WHERE parent_id IS NOT NULL;
CREATE INDEX images_owner ON images (owner_id);

CREATE TABLE comments (
    id          uuid PRIMARY KEY,
    image_id    uuid NOT NULL REFERENCES images (id) ON DELETE CASCADE,
    author_id   uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    text        text NOT NULL CHECK (length(text) BETWEEN 1 AND 5000),
    created_at  timestamptz NOT NULL DEFAULT now(),
    edited_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX comments_by_image ON comments (image_id, created_at DESC, id DESC);
CREATE INDEX comments_author ON comments (author_id);
