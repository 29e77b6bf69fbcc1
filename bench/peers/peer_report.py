"""What the comparison scripts share: their output options and how a report leaves them."""
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
