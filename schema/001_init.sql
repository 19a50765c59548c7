-- SPDX-License-Identifier: MIT
-- 001_init: the broker's registry of record (ARCHITECTURE.md 4.4). Applied by broker/registry.c
-- in one transaction that also sets PRAGMA user_version = 1. ASCII only (embedded into the binary).
-- References to sites have no ON DELETE action (NO ACTION): deleting a site still in use is
-- refused at the end of the statement, reported as a foreign key failure (RESTRICT would raise it
-- as a trigger error instead).
-- Numbers in CHECK constraints mirror common/proto/rd_limits.h (RD_*_ID_MAX, RD_REG_*);
-- tests/unit/test_registry.c checks that both agree. Times are unix seconds unless named _ms.

-- One row: bumped by every configuration change (triggers below), sent to relays in heartbeat
-- responses so they refetch camera configuration and keys when it moves.
CREATE TABLE registry_version (
    id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL CHECK (version >= 1)
) STRICT;
INSERT INTO registry_version (id, version) VALUES (1, 1);

CREATE TABLE sites (
    id         TEXT NOT NULL PRIMARY KEY
               CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9_-]*'),
    name       TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;
INSERT INTO sites (id, name) VALUES ('default', 'Default site');

CREATE TABLE cameras (
    id                TEXT NOT NULL PRIMARY KEY
                      CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9_-]*'),
    name              TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),
    site_id           TEXT NOT NULL DEFAULT 'default'
                      REFERENCES sites (id) ON UPDATE CASCADE,
    -- rtsp:// or rtsps://, printable ASCII without spaces; credentials live in the two
    -- columns below, never in the URL (the URL may be logged, the credentials never are).
    upstream_url      TEXT NOT NULL
                      CHECK ((upstream_url GLOB 'rtsp://?*' OR upstream_url GLOB 'rtsps://?*')
                             AND length(CAST(upstream_url AS BLOB)) <= 1024
                             AND upstream_url NOT GLOB '*[^!-~]*'),
    upstream_user     TEXT NOT NULL DEFAULT ''
                      CHECK (length(CAST(upstream_user AS BLOB)) <= 128),
    upstream_password TEXT NOT NULL DEFAULT ''
                      CHECK (length(CAST(upstream_password AS BLOB)) <= 128),
    transport         TEXT NOT NULL DEFAULT 'auto' CHECK (transport IN ('auto', 'tcp', 'udp')),
    -- Relays allowed to pull this camera at the same time, fleet-wide.
    max_relays        INTEGER NOT NULL DEFAULT 2 CHECK (max_relays BETWEEN 1 AND 64),
    auth_required     INTEGER NOT NULL DEFAULT 0 CHECK (auth_required IN (0, 1)),
    enabled           INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
    -- Pulled by a relay even without viewers (instant start, recording feeds).
    always_on         INTEGER NOT NULL DEFAULT 0 CHECK (always_on IN (0, 1)),
    created_at        INTEGER NOT NULL DEFAULT (unixepoch()),
    updated_at        INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;
CREATE INDEX cameras_site ON cameras (site_id);

CREATE TABLE relays (
    id               TEXT NOT NULL PRIMARY KEY
                     CHECK (length(id) BETWEEN 1 AND 64 AND id NOT GLOB '*[^A-Za-z0-9_-]*'),
    name             TEXT NOT NULL CHECK (length(CAST(name AS BLOB)) BETWEEN 1 AND 128),
    -- NULL: the relay serves cameras of every site.
    site_id          TEXT REFERENCES sites (id) ON UPDATE CASCADE,
    -- Public base of redirects: rtsp[s]://host[:port], no user info, path, query or fragment.
    rtsp_base_url    TEXT NOT NULL
                     CHECK ((rtsp_base_url GLOB 'rtsp://?*' OR rtsp_base_url GLOB 'rtsps://?*')
                            AND length(CAST(rtsp_base_url AS BLOB)) <= 1024
                            AND rtsp_base_url NOT GLOB '*[^!-~]*'
                            AND rtsp_base_url NOT GLOB '*[@?#]*'
                            AND rtsp_base_url NOT GLOB 'rtsp*://*/*'),
    capacity_viewers INTEGER NOT NULL CHECK (capacity_viewers BETWEEN 1 AND 1000000),
    capacity_mbps    INTEGER NOT NULL CHECK (capacity_mbps BETWEEN 1 AND 1000000),
    -- Operator state: draining = no new viewers, disabled = out of placement entirely.
    state            TEXT NOT NULL DEFAULT 'active'
                     CHECK (state IN ('active', 'draining', 'disabled')),
    created_at       INTEGER NOT NULL DEFAULT (unixepoch()),
    updated_at       INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;
CREATE INDEX relays_site ON relays (site_id);

-- 256-bit keys shared by the broker and one relay (tokens, heartbeat MACs). gen grows by one per
-- rotation; the live key with the highest gen signs, the other live one still verifies.
-- Retiring a key overwrites its bytes with zeros.
CREATE TABLE relay_keys (
    relay_id   TEXT NOT NULL REFERENCES relays (id) ON DELETE CASCADE ON UPDATE CASCADE,
    kid        TEXT NOT NULL
               CHECK (length(kid) BETWEEN 1 AND 16 AND kid NOT GLOB '*[^A-Za-z0-9_-]*'),
    gen        INTEGER NOT NULL CHECK (gen >= 1),
    key        BLOB NOT NULL CHECK (length(key) = 32),
    created_at INTEGER NOT NULL DEFAULT (unixepoch()),
    retired    INTEGER NOT NULL DEFAULT 0 CHECK (retired IN (0, 1)),
    PRIMARY KEY (relay_id, kid),
    UNIQUE (relay_id, gen)
) STRICT;
CREATE TRIGGER relay_keys_two_live BEFORE INSERT ON relay_keys
WHEN NEW.retired = 0
     AND (SELECT count(*) FROM relay_keys WHERE relay_id = NEW.relay_id AND retired = 0) >= 2
BEGIN
    SELECT RAISE(ABORT, 'a relay has at most two live keys');
END;
CREATE TRIGGER relay_keys_stay_retired BEFORE UPDATE OF retired ON relay_keys
WHEN OLD.retired = 1 AND NEW.retired = 0
BEGIN
    SELECT RAISE(ABORT, 'a retired key cannot be revived');
END;

-- Viewer accounts for Digest (RFC 7616). Only HA1 = H(name:realm:password) is stored, as lower
-- hex, for MD5 and SHA-256; it is valid for this realm only.
CREATE TABLE users (
    name       TEXT NOT NULL PRIMARY KEY
               CHECK (length(name) BETWEEN 1 AND 128 AND name NOT GLOB '*[^ -~]*'
                      AND name NOT GLOB '*[:"\]*'),
    realm      TEXT NOT NULL
               CHECK (length(realm) BETWEEN 1 AND 128 AND realm NOT GLOB '*[^ -~]*'
                      AND realm NOT GLOB '*["\]*'),
    ha1_md5    TEXT NOT NULL CHECK (length(ha1_md5) = 32 AND ha1_md5 NOT GLOB '*[^0-9a-f]*'),
    ha1_sha256 TEXT NOT NULL
               CHECK (length(ha1_sha256) = 64 AND ha1_sha256 NOT GLOB '*[^0-9a-f]*'),
    created_at INTEGER NOT NULL DEFAULT (unixepoch())
) STRICT;

-- Cameras each user may view (only checked for cameras with auth_required = 1).
CREATE TABLE user_cameras (
    user_name TEXT NOT NULL REFERENCES users (name) ON DELETE CASCADE ON UPDATE CASCADE,
    camera_id TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE ON UPDATE CASCADE,
    PRIMARY KEY (user_name, camera_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX user_cameras_camera ON user_cameras (camera_id);

-- Live state, written by the broker's flush (at most about once a second, one transaction),
-- seconds behind the heartbeats. Emptied when the broker starts. No registry_version bump.

-- Which relays pull which camera right now.
CREATE TABLE relay_cameras (
    camera_id    TEXT NOT NULL REFERENCES cameras (id) ON DELETE CASCADE ON UPDATE CASCADE,
    relay_id     TEXT NOT NULL REFERENCES relays (id) ON DELETE CASCADE ON UPDATE CASCADE,
    state        TEXT NOT NULL CHECK (state IN ('starting', 'playing', 'retrying', 'failed')),
    viewers      INTEGER NOT NULL CHECK (viewers >= 0),
    ingress_kbps INTEGER NOT NULL CHECK (ingress_kbps >= 0),
    since        INTEGER NOT NULL, -- when the broker first saw this relay pull this camera
    updated_at   INTEGER NOT NULL, -- flush that last wrote the row
    PRIMARY KEY (camera_id, relay_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX relay_cameras_relay ON relay_cameras (relay_id);

-- Each relay's latest load as the broker sees it.
CREATE TABLE relay_load (
    relay_id       TEXT NOT NULL PRIMARY KEY
                   REFERENCES relays (id) ON DELETE CASCADE ON UPDATE CASCADE,
    reported_state TEXT NOT NULL CHECK (reported_state IN ('active', 'draining')),
    healthy        INTEGER NOT NULL CHECK (healthy IN (0, 1)), -- broker's hysteresis verdict
    viewers        INTEGER NOT NULL CHECK (viewers >= 0),
    egress_kbps    INTEGER NOT NULL CHECK (egress_kbps >= 0),
    cpu_pct        REAL NOT NULL CHECK (cpu_pct >= 0),
    last_seen      INTEGER NOT NULL, -- last accepted heartbeat
    updated_at     INTEGER NOT NULL  -- flush that last wrote the row
) STRICT;

-- History for the admin page, bounded by every flush: samples of the last hour (one per relay
-- every 10 s), the newest 1000 decisions.
CREATE TABLE load_samples (
    id          INTEGER PRIMARY KEY,
    relay_id    TEXT NOT NULL REFERENCES relays (id) ON DELETE CASCADE ON UPDATE CASCADE,
    at          INTEGER NOT NULL,
    healthy     INTEGER NOT NULL CHECK (healthy IN (0, 1)),
    viewers     INTEGER NOT NULL CHECK (viewers >= 0),
    egress_kbps INTEGER NOT NULL CHECK (egress_kbps >= 0),
    cpu_pct     REAL NOT NULL CHECK (cpu_pct >= 0)
) STRICT;
CREATE INDEX load_samples_relay_at ON load_samples (relay_id, at);
CREATE INDEX load_samples_at ON load_samples (at);

-- Placement decisions. No foreign keys: history outlives deleted cameras and relays, and a
-- 404 names a camera that does not exist.
CREATE TABLE decisions (
    id        INTEGER PRIMARY KEY,
    at_ms     INTEGER NOT NULL,
    camera_id TEXT NOT NULL
              CHECK (length(camera_id) <= 64 AND camera_id NOT GLOB '*[^A-Za-z0-9_-]*'),
    relay_id  TEXT CHECK (relay_id IS NULL OR (length(relay_id) BETWEEN 1 AND 64
                                               AND relay_id NOT GLOB '*[^A-Za-z0-9_-]*')),
    status    INTEGER NOT NULL CHECK (status BETWEEN 100 AND 599), -- RTSP status answered
    reason    TEXT NOT NULL CHECK (length(reason) <= 64 AND reason NOT GLOB '*[^ -~]*'),
    client    TEXT NOT NULL DEFAULT '' CHECK (length(client) <= 64 AND client NOT GLOB '*[^ -~]*')
) STRICT;
CREATE INDEX decisions_camera ON decisions (camera_id, id);

-- Every configuration change bumps registry_version, also edits made with plain sqlite3.
CREATE TRIGGER sites_bump_ins AFTER INSERT ON sites
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER sites_bump_upd AFTER UPDATE ON sites
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER sites_bump_del AFTER DELETE ON sites
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER cameras_bump_ins AFTER INSERT ON cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER cameras_bump_upd AFTER UPDATE ON cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER cameras_bump_del AFTER DELETE ON cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relays_bump_ins AFTER INSERT ON relays
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relays_bump_upd AFTER UPDATE ON relays
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relays_bump_del AFTER DELETE ON relays
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relay_keys_bump_ins AFTER INSERT ON relay_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relay_keys_bump_upd AFTER UPDATE ON relay_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER relay_keys_bump_del AFTER DELETE ON relay_keys
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_bump_ins AFTER INSERT ON users
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_bump_upd AFTER UPDATE ON users
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER users_bump_del AFTER DELETE ON users
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_cameras_bump_ins AFTER INSERT ON user_cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_cameras_bump_upd AFTER UPDATE ON user_cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
CREATE TRIGGER user_cameras_bump_del AFTER DELETE ON user_cameras
BEGIN UPDATE registry_version SET version = version + 1 WHERE id = 1; END;
