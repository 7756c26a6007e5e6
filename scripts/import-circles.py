#!/usr/bin/env python3
"""Import circles among joy4's source files.

Reads every `src/**/*.rs` of the library (the bench binary and `main.rs` have their own crate
roots and are read the same way), tests aside (`tests.rs`, files under a `tests/` folder, and
`#[cfg(test)]` modules), and builds the graph of which file uses which: a `use crate::…` or
`use super::…` line (braces expanded), the same paths written inline in code, and a router's
calls into its child modules (`child::f()`). A path is followed through `pub use` re-exports to
the file that defines the item, so `use crate::hub::Channel` points at `hub/channel/mod.rs`.

Then, at every level of the tree, the graph with each child module collapsed to one node (a
module's own `mod.rs` is a node of its own) must have no circle: files within a room, rooms
within the crate. Prints each circle found and exits 1; prints a one-line summary and exits 0
when there is none.

  scripts/import-circles.py [SRC_DIR]
  scripts/import-circles.py --self-test   # the checker on small made-up crates
"""
import os
import re
import sys

USE_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?use\s+([^;]+);", re.S | re.M)
INLINE_RE = re.compile(r"(?<![\w:])((?:crate|super)(?:::(?:super|[A-Za-z_]\w*))+)")
MOD_RE = re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?mod\s+(\w+)\s*;", re.M)
ITEM_RE = (r"^\s*(?:#\[[^\]]*\]\s*)*(?:pub(?:\([^)]*\))?\s+)?(?:unsafe\s+)?(?:const\s+fn|fn|struct|enum|"
           r"trait|type|const|static|macro_rules!)\s+{}\b")


def strip_comments_and_strings(text):
    text = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
    text = re.sub(r'r#*"(?:.|\n)*?"#*', '""', text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    return "\n".join(line.split("//", 1)[0] for line in text.splitlines())


def cut_test_modules(text):
    """Drop `#[cfg(test)] mod name { … }` blocks (balanced braces) and `#[cfg(test)]` items."""
    out, i = [], 0
    pattern = re.compile(r"#\[cfg\(test\)\]\s*(?:pub\s+)?(?:mod|use|fn|impl)\b[^{;]*([{;])")
    while True:
        m = pattern.search(text, i)
        if not m:
            out.append(text[i:])
            return "".join(out)
        out.append(text[i:m.start()])
        if m.group(1) == ";":
            i = m.end()
            continue
        depth, j = 1, m.end()
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        i = j


def expand_use_tree(tree):
    """`a::{b, c::{d, e as f}, self}` -> [['a','b'], ['a','c','d'], ['a','c','e'], ['a']]."""
    tree = re.sub(r"\s+", "", re.sub(r"\s+as\s+\w+", "", tree))

    def split_top(s):
        parts, depth, cur = [], 0, ""
        for ch in s:
            if ch == "," and depth == 0:
                parts.append(cur)
                cur = ""
                continue
            depth += {"{": 1, "}": -1}.get(ch, 0)
            cur += ch
        if cur:
            parts.append(cur)
        return parts

    def walk(prefix, s):
        if s.startswith("{"):
            return [p for part in split_top(s[1:-1]) for p in walk(prefix, part)]
        head, sep, rest = s.partition("::")
        if not sep:
            if head in ("self", "*"):
                return [prefix]
            return [prefix + [head]]
        if rest.startswith("{"):
            return [p for part in split_top(rest[1:-1]) for p in walk(prefix + [head], part)]
        return walk(prefix + [head], rest)

    return walk([], tree)


class Crate:
    def __init__(self, src):
        self.src = src
        self.files = {}  # module path tuple -> (file path, code text)
        self.children = {}  # module path -> set of child module names declared with `mod x;`

    def load(self, root_file, root_path):
        self._load(root_file, root_path)

    def _load(self, file, mpath):
        with open(file, encoding="utf-8") as f:
            code = cut_test_modules(strip_comments_and_strings(f.read()))
        self.files[mpath] = (file, code)
        kids = set()
        for name in MOD_RE.findall(code):
            if name == "tests":
                continue
            base = os.path.dirname(file) if os.path.basename(file) in ("mod.rs", "lib.rs", "main.rs") \
                else os.path.splitext(file)[0]
            for cand in (os.path.join(base, name + ".rs"), os.path.join(base, name, "mod.rs")):
                if os.path.isfile(cand) and "/tests/" not in cand:
                    kids.add(name)
                    self._load(cand, mpath + (name,))
                    break
        self.children[mpath] = kids

    def resolve(self, mpath, segments, seen=None):
        """The module path of the file that defines `segments` as seen from module `mpath`."""
        seen = seen or set()
        if segments and segments[0] == "crate":
            cur, rest = (), segments[1:]
        elif segments and segments[0] in ("super", "self"):
            cur, rest = mpath, list(segments)
            while rest and rest[0] in ("super", "self"):
                if rest[0] == "super":
                    cur = cur[:-1]
                rest = rest[1:]
        else:
            cur, rest = mpath, list(segments)
        while rest and cur + (rest[0],) in self.files:
            cur, rest = cur + (rest[0],), rest[1:]
        if not rest or (cur, rest[0]) in seen:
            return cur
        seen.add((cur, rest[0]))
        target = self.reexport(cur, rest[0])
        if target is None:
            return cur
        return self.resolve(cur, target + rest[1:], seen)

    def reexport(self, mpath, name):
        """Where `pub use … name` in module `mpath` points, if it re-exports `name`."""
        code = self.files[mpath][1]
        if re.search(ITEM_RE.format(re.escape(name)), code, re.M):
            return None
        for m in USE_RE.finditer(code):
            if not m.group(0).lstrip().startswith("pub"):
                continue
            for path in expand_use_tree(m.group(1)):
                if path and path[-1] == name:
                    return path
        return None

    def edges(self):
        out = {}
        for mpath, (file, code) in self.files.items():
            deps = set()
            paths = [p for m in USE_RE.finditer(code) for p in expand_use_tree(m.group(1))]
            paths += [p.split("::") for p in INLINE_RE.findall(code)]
            kids = self.children.get(mpath, set())
            for kid in kids:
                for m in re.finditer(r"(?<![\w:])" + kid + r"::([A-Za-z_]\w*)", code):
                    paths.append([kid, m.group(1)])
            for path in paths:
                if not path or path[0] not in ("crate", "super", "self") and path[0] not in kids:
                    continue
                if path[0] not in ("crate", "super", "self") and self.reexport(mpath, path[-1]) == path:
                    continue  # a router re-exporting its child's item is a declaration, not a use
                target = self.resolve(mpath, path)
                if target != mpath and target in self.files:
                    deps.add(target)
            out[mpath] = deps
        return out


def circles_at(level, nodes, edges):
    """Circles among the children of `level`, each child standing for its whole subtree."""
    def group(m):
        if m[: len(level)] != level:
            return None
        return m[: len(level) + 1] if len(m) > len(level) else level + ("<self>",)

    graph = {}
    for src, deps in edges.items():
        a = group(src)
        if a is None:
            continue
        for dst in deps:
            b = group(dst)
            if b is not None and b != a:
                graph.setdefault(a, set()).add(b)
    # Tarjan's strongly connected components.
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]

    def strong(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in list(graph):
        if v not in index:
            strong(v)
    return sccs


def name(m):
    return "::".join(x for x in m if x != "<self>") + (" (its mod.rs)" if m and m[-1] == "<self>" else "") or "crate"


def arrows(level, comp, edges):
    """The file-to-file uses that join the members of one circle, for the report."""
    def member(m):
        for c in comp:
            base = c[:-1] if c[-1] == "<self>" else c
            if (c[-1] == "<self>" and m == base) or (c[-1] != "<self>" and m[: len(c)] == c):
                return c
        return None

    out = []
    for src, deps in sorted(edges.items()):
        for dst in sorted(deps):
            a, b = member(src), member(dst)
            if a and b and a != b:
                out.append(f"{name(src) or 'crate'} -> {name(dst) or 'crate'}")
    return out


def check(src, root_file, label):
    crate = Crate(src)
    crate.load(root_file, ())
    edges = crate.edges()
    found = []
    levels = {m for m in crate.files if crate.children.get(m)}
    for level in sorted(levels):
        for comp in circles_at(level, crate.files, edges):
            found.append((label, level, comp, arrows(level, comp, edges)))
    return len(crate.files), found


def self_test():
    """Made-up crates with and without circles: the checker must tell them apart."""
    import tempfile

    cases = {
        "files that use each other": ({
            "lib.rs": "mod a;\nmod b;\n",
            "a.rs": "use crate::b::B;\npub struct A;\n",
            "b.rs": "pub struct B;\nfn f() { crate::a::A; }\n",
        }, ["a <-> b"]),
        "a router and a child that takes its helper": ({
            "lib.rs": "pub mod r;\n",
            "r/mod.rs": "mod kid;\npub fn helper() {}\nfn route() { kid::serve(); }\n",
            "r/kid.rs": "use super::helper;\npub fn serve() { helper() }\n",
        }, ["r (its mod.rs) <-> r::kid"]),
        "rooms that use each other through re-exports": ({
            "lib.rs": "pub mod hub;\npub mod wire;\n",
            "hub/mod.rs": "mod chan;\npub use chan::Chan;\n",
            "hub/chan.rs": "use crate::wire::Frame;\npub struct Chan;\n",
            "wire/mod.rs": "mod frame;\npub use frame::Frame;\n",
            "wire/frame.rs": "use crate::hub::Chan;\npub struct Frame;\n",
        }, ["hub <-> wire"]),
        "arrows one way, a re-exporting router, a test module": ({
            "lib.rs": "pub mod hub;\npub mod wire;\n",
            "hub/mod.rs": "mod chan;\nmod join;\npub use chan::{Chan, JOIN as J};\n",
            "hub/chan.rs": "use super::join::join;\nuse crate::wire::Frame;\npub struct Chan;\n"
                           "pub const JOIN: u8 = 0;\n",
            "hub/join.rs": "pub fn join() {}\n#[cfg(test)]\nmod tests {\n    use crate::hub::Chan;\n}\n",
            "wire/mod.rs": "// crate::hub::Chan in a comment\npub struct Frame;\n",
        }, []),
    }
    failed = 0
    for title, (files, want) in cases.items():
        with tempfile.TemporaryDirectory() as root:
            for rel, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(root, rel)), exist_ok=True)
                with open(os.path.join(root, rel), "w", encoding="utf-8") as f:
                    f.write(text)
            _, found = check(root, os.path.join(root, "lib.rs"), "test")
            got = [" <-> ".join(name(c) for c in comp) for _, _, comp, _ in found]
            if got != want:
                failed += 1
                print(f"self-test FAILED: {title}: found {got}, expected {want}")
    if failed:
        sys.exit(1)
    print(f"import-circles self-test: {len(cases)} passed, 0 failed")


def main():
    if sys.argv[1:] == ["--self-test"]:
        self_test()
        return
    src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")
    sys.setrecursionlimit(10000)
    total, problems = 0, []
    roots = [(os.path.join(src, "lib.rs"), "library")]
    bench = os.path.join(src, "bin", "joy4-bench", "main.rs")
    if os.path.isfile(bench):
        roots.append((bench, "joy4-bench"))
    for root, label in roots:
        count, found = check(src, root, label)
        total += count
        problems += found
    for label, level, comp, uses in problems:
        where = name(level) if level else "crate"
        print(f"import circle in {label}, inside {where}: " + " <-> ".join(name(c) for c in comp))
        for use in uses:
            print(f"    {use}")
    if problems:
        sys.exit(1)
    print(f"import-circles: no import circle among {total} source files")


if __name__ == "__main__":
    main()
