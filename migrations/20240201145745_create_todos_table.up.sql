-- create todos table
--
-- Revision ID: 20240201145745
-- Revises:
-- Create Date: 2024-02-01 14:57:45

CREATE TABLE todos (
    id INTEGER NOT NULL,
    title VARCHAR(255) NOT NULL,
    description VARCHAR(1000),
    status VARCHAR(32) NOT NULL,
    PRIMARY KEY (id)
);
