-- name: reference_count
SELECT count(*) AS n FROM reference_photos WHERE avatar_id = %(avatar_id)s;

-- name: insert_avatar
INSERT INTO avatars (user_id, name) VALUES (%(user_id)s, %(name)s) RETURNING *;

-- name: get_avatar
SELECT a.*, (SELECT count(*) FROM reference_photos r WHERE r.avatar_id = a.id) AS reference_count
FROM avatars a WHERE a.id = %(id)s AND a.user_id = %(user_id)s AND a.deleted_at IS NULL;

-- name: list_avatars
SELECT a.*, (SELECT count(*) FROM reference_photos r WHERE r.avatar_id = a.id) AS reference_count,
       (SELECT r.storage_key FROM reference_photos r WHERE r.avatar_id = a.id ORDER BY r.id LIMIT 1) AS cover_key
FROM avatars a WHERE a.user_id = %(user_id)s AND a.deleted_at IS NULL ORDER BY a.id;

-- name: lock_avatar
SELECT * FROM avatars WHERE id = %(id)s AND user_id = %(user_id)s AND deleted_at IS NULL FOR UPDATE;

-- name: soft_delete_avatar
UPDATE avatars SET deleted_at = now() WHERE id = %(id)s AND user_id = %(user_id)s AND deleted_at IS NULL
RETURNING *;

-- name: insert_reference
INSERT INTO reference_photos (avatar_id, storage_key, sha256, width, height, size_bytes, content_type, source,
                              telegram_file_unique_id)
VALUES (%(avatar_id)s, %(storage_key)s, %(sha256)s, %(width)s, %(height)s, %(size_bytes)s, %(content_type)s,
        %(source)s, %(telegram_file_unique_id)s)
ON CONFLICT ON CONSTRAINT reference_photos_avatar_sha_key DO NOTHING
RETURNING *;

-- name: references_of_avatar
SELECT * FROM reference_photos WHERE avatar_id = %(avatar_id)s ORDER BY id;

-- name: delete_reference
DELETE FROM reference_photos WHERE id = %(id)s AND avatar_id = %(avatar_id)s RETURNING storage_key;
