"""A saved plan is untrusted input: `apply --plan` plans the document it records again and runs
that plan only if it is identical. Every field of a real saved plan is mutated in turn (deleted,
given the wrong type, pushed out of range, replaced by a hostile string, or by bytes that are not
UTF-8); every mutation must be refused with exit 1 and a clear error, and the real host must be
exactly as it was. The untouched plan then applies, so the refusals are not a broken apply."""

import hashlib
import json
import os
import sys
import unittest

from vctest import URI, WORK, RealLibvirtTest, run, saved_plan, snapshot

def digest(plan):
    """The plan's digest as the engine computes it: SHA-256 of the canonical JSON without it."""
    rest = {k: v for k, v in plan.items() if k != "digest"}
    text = json.dumps(rest, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


HOSTILE = "x&'$(id)<a/>/../../etc\n\t\"é\u202e"


def document(pool_dir, *, vcpus, with_update):
    extra = """
volumes:
  vct-spool/extra: {format: raw, capacity: 8MiB}
""" if with_update else ""
    nics = "[{network: vct-snet}, {network: vct-snet}]" if with_update else "[{network: vct-snet}]"
    return f"""version: 1
pools:
  vct-spool: {{type: dir, path: {pool_dir}}}
networks:
  vct-snet: {{mode: isolated}}{extra}
domains:
  vct-saved:
    vcpus: {vcpus}
    max_vcpus: 4
    memory: 128MiB
    interfaces: {nics}
    state: stopped
"""


def paths(value, path=()):
    """Every path in a JSON value, containers and leaves, depth first."""
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from paths(child, path + (key,))
    elif isinstance(value, list):
        for i, child in enumerate(value):
            yield from paths(child, path + (i,))


def get(value, path):
    for p in path:
        value = value[p]
    return value


def wrong_type(value):
    if isinstance(value, bool):
        return "true"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return 7
    if value is None:
        return {}
    if isinstance(value, dict):
        return []
    return {}


def out_of_range(value):
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return -1 if value >= 0 else 2 ** 70
    if isinstance(value, str):
        return ""
    if isinstance(value, list):
        return value + value[:1] if value else [None]
    return None


class SavedPlanMutationTest(RealLibvirtTest):
    def test_every_field_of_a_saved_plan_mutated_is_refused_and_the_host_is_untouched(self):
        pool_dir = os.path.join(WORK, "spool")
        self.apply_ok(self.write("base.yaml", document(pool_dir, vcpus=1, with_update=False)))
        path = self.write("next.yaml", document(pool_dir, vcpus=2, with_update=True))
        plan_file, plan = saved_plan(path, URI)
        self.assertEqual(sorted(c["address"] for c in plan["changes"]),
                         ["domain.vct-saved", "volume.vct-spool/extra"], "an update and a create to tamper with")
        before = snapshot()

        mutations = []
        for p in paths(plan):
            if not p:
                continue
            value = get(plan, p)
            mutations.append((p, "deleted", None))
            for how, replacement in [("wrong type", wrong_type(value)), ("out of range", out_of_range(value)),
                                     ("hostile string", HOSTILE)]:
                if json.dumps(replacement) != json.dumps(value):  # a mutation must change something
                    mutations.append((p, how, replacement))
            if isinstance(value, str):
                mutations.append((p, "not UTF-8", b"\xff\xfe"))
        self.assertEqual(digest(plan), plan["digest"], "the test computes the digest as the engine does")
        refused = 0
        tampered = os.path.join(WORK, "tampered.json")
        # Each mutation twice: as edited (the digest shows it), and with the digest rewritten to
        # match, so planning again must find it. A rewritten document may still be consistent
        # (a field the changes do not depend on); those paths get the first check only.
        for p, how, replacement, redigest in [m + (r,) for m in mutations for r in (False, True)]:
            if redigest and (p[0] in ("digest", "document") or isinstance(replacement, bytes)):
                continue
            copy = json.loads(json.dumps(plan))
            parent = get(copy, p[:-1])
            if how == "deleted":
                del parent[p[-1]]
            else:
                parent[p[-1]] = "@@BYTES@@" if isinstance(replacement, bytes) else replacement
            if redigest and isinstance(copy, dict):
                copy["digest"] = digest(copy)
            data = json.dumps(copy, ensure_ascii=False).encode()
            if isinstance(replacement, bytes):
                data = data.replace(b'"@@BYTES@@"', b'"' + replacement + b'"')
            with open(tampered, "wb") as f:
                f.write(data)
            rc, out, err = run(["apply", "--plan", tampered], timeout=60)
            where = f"{'.'.join(str(x) for x in p)} {how}{' (digest rewritten)' if redigest else ''}"
            self.assertEqual(rc, 1, f"{where}: expected a refusal, got exit {rc}\n{out}\n{err}")
            self.assertIn("error:", err, where)
            self.assertNotIn("Applying:", out, f"{where}: apply started\n{out}")
            refused += 1
        print(f"\n{refused} mutated saved plans refused", file=sys.stderr)
        self.assertGreater(refused, 600)
        self.assertEqual(snapshot(), before, "a refused plan changed the host")

        # The untouched plan applies: the refusals above came from the mutations.
        rc, out, err = run(["apply", "--plan", plan_file])
        self.assertEqual(rc, 0, out + err)
        self.assertIn("Apply: 2 of 2 resource(s) converged.", out)


if __name__ == "__main__":
    unittest.main()


class ShowTest(RealLibvirtTest):
    """The text plan is the render of the JSON plan: `show` of the saved JSON prints exactly what
    `plan` printed, steps included; a tampered file is refused."""

    def test_the_text_plan_equals_the_render_of_its_own_json_plan(self):
        pool_dir = os.path.join(WORK, "spool")
        self.apply_ok(self.write("base.yaml", document(pool_dir, vcpus=1, with_update=False)))
        path = self.write("next.yaml", document(pool_dir, vcpus=2, with_update=True))
        for verbose in ([], ["--verbose"]):
            out_path = os.path.join(WORK, "shown.plan.json")
            rc, text, err = run(["plan", path, "--connection", URI, "--out", out_path, *verbose])
            self.assertEqual(rc, 0, text + err)
            self.assertIn("→ ", text, "the plan has steps to show")
            rc, shown, err = run(["show", out_path, *verbose])
            self.assertEqual(rc, 0, err)
            self.assertEqual(shown, text)
        with open(out_path) as f:
            plan = json.load(f)
        plan["changes"][0]["steps"][0]["description"] = "something harmless"
        tampered = self.write("tampered.plan.json", json.dumps(plan))
        rc, out, err = run(["show", tampered])
        self.assertEqual(rc, 1)
        self.assertIn("digest", err)
        self.assertEqual(out, "")
        # Digest made right, shape wrong: an error, never an abort.
        for mutate in (lambda q: q.pop("changes"), lambda q: q.update(summary={"create": "x"}),
                       lambda q: q.update(changes=[{"action": 1}])):
            bad = json.loads(json.dumps(plan))
            mutate(bad)
            bad["digest"] = digest(bad)
            rc, out, err = run(["show", self.write("bad.plan.json", json.dumps(bad))])
            self.assertEqual(rc, 1, err)
            self.assertIn("error:", err)
