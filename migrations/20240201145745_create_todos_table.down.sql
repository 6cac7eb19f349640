-- Revert: create todos table

DROP TABLE todos;
