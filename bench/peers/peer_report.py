"""What the comparison scripts share: their output options, how a report leaves them, and the session TSV reader."""
import json


def add_output_options(ap):
    ap.add_argument("--json", action="store_true", help="print the JSON instead of the table")
    ap.add_argument("--json-out", help="also write the JSON to this file")


def emit(report, args):
    """Writes the report to --json-out, prints it with --json; True when the caller should print its table."""
    if args.json_out:
        with open(args.json_out, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
    if args.json:
        print(json.dumps(report, indent=2))
        return False
    return True


def read_session_clicks(path):
    """{session id: [(time, line, item), ...] in time order (ties in file order)} from a SessionId/ItemId/Time TSV,
    sessions in order of their first row."""
    sessions = {}
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        s, i, t = header.index("SessionId"), header.index("ItemId"), header.index("Time")
        for n, line in enumerate(f):
            cols = line.rstrip("\n").split("\t")
            if len(cols) == len(header):
                sessions.setdefault(cols[s], []).append((float(cols[t]), n, cols[i]))
    return {sid: sorted(v) for sid, v in sessions.items()}
