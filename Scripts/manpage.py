#!/usr/bin/env python3
"""Renders originaudit(1) from the argument parser's own description of the tool
(`originaudit --experimental-dump-help`, swift-argument-parser's ToolInfo JSON): every command,
argument and option in the man page is the one the binary parses, with the help text it prints.

    Scripts/manpage.py BINARY VERSION > originaudit.1
"""
import json
import subprocess
import sys


def roff(text):
    """Escapes text for roff: backslashes, and a leading dot or quote that would start a request."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    lines = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        lines.append(line)
    return "\n".join(lines)


def names(argument):
    if argument["kind"] == "positional":
        return "\\fI" + roff(argument.get("valueName", "value")) + "\\fR" + ("..." if argument.get("isRepeating") else "")
    parts = []
    for name in argument.get("names", []):
        prefix = "-" if name["kind"] == "short" else "--"
        parts.append("\\fB" + roff(prefix + name["name"]) + "\\fR")
    text = ", ".join(parts)
    if argument["kind"] == "option":
        text += " \\fI" + roff(argument.get("valueName", "value")) + "\\fR"
    return text


def arguments_section(command):
    out = []
    for argument in command.get("arguments", []):
        if not argument.get("shouldDisplay", True):
            continue
        out.append(".TP")
        out.append(names(argument))
        abstract = argument.get("abstract", "")
        if argument.get("isRepeating") and argument["kind"] == "option":
            abstract += " (repeatable)"
        if argument.get("defaultValue") is not None:
            abstract += " (default: %s)" % argument["defaultValue"]
        out.append(roff(abstract))
    return out


def command_section(command, path):
    out = [".SS " + roff(" ".join(path))]
    if command.get("abstract"):
        out.append(roff(command["abstract"]))
    if command.get("discussion"):
        out += [".PP", roff(command["discussion"])]
    out += arguments_section(command)
    for sub in command.get("subcommands", []):
        if sub.get("shouldDisplay", True) and sub["commandName"] != "help":
            out += command_section(sub, path + [sub["commandName"]])
    return out


def main():
    binary, version = sys.argv[1], sys.argv[2]
    info = json.loads(subprocess.run([binary, "--experimental-dump-help"], check=True,
                                     capture_output=True, text=True).stdout)
    tool = info["command"]
    name = tool["commandName"]
    out = [
        '.TH %s 1 "" "%s %s" "User Commands"' % (name.upper(), name, version),
        ".SH NAME",
        "%s \\- %s" % (name, roff(tool.get("abstract", "audit an origin server behind a CDN"))),
        ".SH SYNOPSIS",
        ".B %s" % name,
        "[\\fIcommand\\fR] [\\fIoptions\\fR] [\\fIpath\\fR...]",
        ".SH DESCRIPTION",
        roff(tool.get("discussion", "")),
        ".SH OPTIONS",
    ] + arguments_section(tool) + [".SH COMMANDS"]
    for sub in tool.get("subcommands", []):
        if sub.get("shouldDisplay", True) and sub["commandName"] != "help":
            out += command_section(sub, [name, sub["commandName"]])
    out += [
        ".SH FILES",
        ".TP",
        ".I .originaudit.yml",
        "Project settings, read from the first directory scanned (see \\fB\\-\\-config\\fR).",
        ".SH SEE ALSO",
        "\\fBiptables-save\\fR(8), \\fBnft\\fR(8), \\fBnginx\\fR(8), \\fBapache2ctl\\fR(8)",
    ]
    sys.stdout.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
