#!/usr/bin/env python3
"""sipwise/db-schema (Sipwise NGCP, MariaDB): the migrations of its `provisioning` database as a
Godwit project. Upstream applies ~930 numbered `.up` scripts across a dozen databases with the
mysql client; what each runs while its database is `provisioning` (after `USE provisioning`) is
kept, in upstream's order, with what only the mysql client or their own servers understand taken out:
DELIMITER lines (each statement ended as a server reads it), USE, GRANT/REVOKE/FLUSH for accounts
that are not there, DEFINER clauses, the database's own name as a qualifier, statements outside a
routine that reach into another database, and the seed data (its triggers write into the other
databases). Strict mode is off in each file, as on upstream's servers. Usage: corpus/sipwise.py MIRROR OUT_DIR"""

import re
import subprocess
import sys
from pathlib import Path

COMMIT = "b98d1a7df442b120c1a705044a9d8d658d7952fe"
DB = "provisioning"
OTHER = r"(kamailio|billing|accounting|ngcp|sipstats|carrier|prosody|ldap|stats|mysql|syslog|freeswitch|fileshare)"


def git(mirror, *args):
    return subprocess.run(["git", "-C", mirror, *args], check=True, capture_output=True).stdout.decode("utf-8", "replace")


def statements(text):
    """Statements as the mysql client splits them: at its delimiter, outside quotes and comments."""
    delim, out, cur, i = ";", [], [], 0
    lines = text.splitlines(keepends=True)
    for line in lines:
        m = re.match(r"^\s*delimiter\s+(\S+)\s*$", line, re.I)
        if m and not bare("".join(cur)):
            delim = m.group(1)
            continue
        # The client reads USE as a line of its own, with or without a delimiter.
        u = re.match(r"^\s*use\s+`?\w+`?\s*(;|" + re.escape(delim) + r")?\s*$", line, re.I)
        if u and not bare("".join(cur)):
            out.append(line.strip().rstrip(";").rstrip(delim))
            continue
        j, quote = 0, None
        while j < len(line):
            ch = line[j]
            if quote:
                if ch == "\\" and quote != "`":
                    cur.append(line[j:j + 2])
                    j += 2
                    continue
                if ch == quote:
                    quote = None
            elif ch in "'\"`":
                quote = ch
            elif line.startswith("--", j) or ch == "#":
                cur.append(line[j:])
                break
            elif line.startswith(delim, j):
                out.append("".join(cur))
                cur = []
                j += len(delim)
                continue
            cur.append(ch)
            j += 1
    if "".join(cur).strip():
        out.append("".join(cur))
    return [s.strip().rstrip(";").rstrip() for s in out if re.sub(r"(--[^\n]*|#[^\n]*)", "", s).strip(" \n\t;")]


def bare(stmt):
    """A statement without its comment lines, lower case."""
    return re.sub(r"(--[^\n]*\n|#[^\n]*\n)", "", stmt + "\n").strip().lower()


def kept(stmt):
    words = bare(stmt)
    if re.match(r"^(use|grant|revoke|flush|set\s+sql_log_bin|create\s+database|drop\s+database|(create|drop|alter|rename)\s+user|set\s+transaction)\b", words):
        return None
    # Seed data: its triggers write into the other databases, which are not here.
    if re.match(r"^(insert|update|delete|replace)\b", words):
        return None
    # A table's foreign keys into another database go; the table stays.
    if re.match(r"^create\s+table\b", words):
        lines = [ln for ln in stmt.split("\n") if not re.search(r"references\s+`?" + OTHER + r"`?\.", ln, re.I)]
        stmt = re.sub(r",(\s*\n\s*\))", r"\1", "\n".join(lines))
        words = bare(stmt)
    routine = re.match(r"^create\s+(definer\s*=\s*\S+\s+)?(trigger|function|procedure|event)\b", words)
    if not routine and re.search(r"[`\s(,]" + OTHER + r"`?\.", " " + words):
        return None
    stmt = re.sub(r"\bdefiner\s*=\s*(`[^`]*`|'[^']*'|\w+)@(`[^`]*`|'[^']*'|[\w.%]+)\s*", "", stmt, flags=re.I)
    return re.sub(r"`?\b" + DB + r"\b`?\.", "", stmt, flags=re.I)


def convert(text):
    """The statements a file runs on provisioning: after `USE provisioning`, or naming it."""
    current, body = None, []
    # mysqldump's versioned comments (`/*!50003 CREATE*/`) are run by the server: unwrapped.
    text = re.sub(r"/\*!\d*\s?(.*?)\*/", r"\1", text, flags=re.S)
    for st in statements(text):
        m = re.match(r"^use\s+`?(\w+)`?$", bare(st))
        if m:
            current = m.group(1)
        elif (current == DB or current is None and re.search(r"\b" + DB + r"`?\.", bare(st))) and (k := kept(st)):
            # Before any USE, a statement naming provisioning's tables by their database.
            body.append(k)
    if not body:
        return ""
    # Upstream's servers run without strict mode (a '0' datetime in its seed data).
    return "SET SESSION sql_mode = 'NO_ENGINE_SUBSTITUTION';\n\n" + "".join(f"{s};\n\n" for s in body)


def main(mirror, out):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [n for n in git(mirror, "ls-tree", "-r", "--name-only", COMMIT).split("\n")
             if re.match(r"db_scripts/(init|base|diff)/\d+.*\.up$", n)]
    names.sort(key=lambda n: int(re.match(r"\d+", Path(n).name).group(0)))
    written = 0
    for n in names:
        up = convert(git(mirror, "show", f"{COMMIT}:{n}"))
        if up is None or not up.strip():
            continue
        number = re.match(r"\d+", Path(n).name).group(0)
        stem = re.sub(r"[^a-z0-9]+", "_", Path(n).name[len(number):-3].lower()).strip("_") or "change"
        name = f"{int(number):05d}_{stem}"
        (out / f"{name}.up.sql").write_text(up)
        down_name = n[:-3] + ".down"
        try:
            down = convert(git(mirror, "show", f"{COMMIT}:{down_name}"))
        except subprocess.CalledProcessError:
            down = None
        if down and down.strip():
            (out / f"{name}.down.sql").write_text(down)
        written += 1
    print(f"sipwise: {written} migrations of {DB} written to {out}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
