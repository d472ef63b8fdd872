-- Soft delete one record: values are bound parameters, never SQL text.
UPDATE {target} SET "_zoho_deleted_at" = :deleted_at WHERE "id" = :id
