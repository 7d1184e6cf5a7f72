"""Structured outputs and tool calls through the official openai client: constrained JSON (random schemas
validated with the `jsonschema` package), regex, choice and GBNF constraints, 400s naming the place,
`chat.completions.parse` with a Pydantic model, and tool-call round trips, streamed and not."""
import json, random, re, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Optional

import jsonschema
import openai
import pydantic
import pytest


def client(server):
    return openai.OpenAI(base_url=server.base + "/v1", api_key="none", max_retries=0, timeout=300)


def post(server, path, body):
    req = urllib.request.Request(server.base + path, data=json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=300) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


# ---------- random schemas from the supported subset ----------

WS = 6            # whitespace per gap, as the compiler allows
NUM = 19 + 1 + 17 + 4   # longest number the grammar writes


def rand_schema(rng, depth=0, defs=None):
    """A schema and the longest output (characters) its grammar admits."""
    kinds = ["string", "integer", "number", "boolean", "null", "enum", "const", "pattern", "format"]
    if depth < 2:
        kinds += ["object", "object", "array", "anyOf", "oneOf", "ref", "nullable"]
    k = rng.choice(kinds) if depth > 0 or rng.random() < 0.3 else "object"
    if k == "string":
        hi = rng.randint(0, 8)
        s = {"type": "string", "maxLength": hi}
        if rng.random() < 0.5:
            s["minLength"] = rng.randint(0, hi)
        return s, 2 + 6 * hi
    if k == "pattern":
        p = rng.choice([r"^[a-z]{1,6}$", r"^\d{3}-\d{2}$", r"^(yes|no|maybe)$", r"^[A-Z][a-z]{0,5}( [A-Z][a-z]{0,5})?$"])
        return {"type": "string", "pattern": p}, 16
    if k == "format":
        f = rng.choice(["date", "uuid", "date-time", "time"])
        return {"type": "string", "format": f}, 40
    if k == "integer":
        s = {"type": "integer"}
        if rng.random() < 0.7:
            lo = rng.randint(-1000, 1000)
            s["minimum"] = lo
            if rng.random() < 0.7:
                s["maximum"] = lo + rng.randint(0, 5000)
        if rng.random() < 0.2 and "maximum" in s:
            del s["minimum"]
        return s, 21
    if k == "number":
        s = {"type": "number"}
        if rng.random() < 0.5:
            s["minimum"] = rng.choice([0, 1, 10])
            s["maximum"] = s["minimum"] + rng.choice([1, 5, 100])
        return s, NUM
    if k == "boolean":
        return {"type": "boolean"}, 5
    if k == "null":
        return {"type": "null"}, 4
    if k == "enum":
        vals = rng.sample(["red", "green", 3, 4.5, None, True, "a b", "x\"y"], rng.randint(1, 4))
        return {"enum": vals}, max(len(json.dumps(v)) for v in vals)
    if k == "const":
        v = rng.choice(["fixed", 42, False, None, [1, "two"], {"k": 1}])
        return {"const": v}, len(json.dumps(v, separators=(",", ":")))
    if k == "object":
        n = rng.randint(0, 3 if depth == 0 else 2)
        props, bound = {}, 2 + WS
        for i in range(n):
            sub, b = rand_schema(rng, depth + 1, defs)
            props[f"p{i}_{rng.choice(['id', 'name', 'value', 'x'])}"] = sub
            bound += len(f"p{i}_value") + 2 + 1 + 3 * WS + b + 1
        req = [p for p in props if rng.random() < 0.6]
        s = {"type": "object", "properties": props, "required": req}
        if not props or rng.random() < 0.8:   # no properties and no additionalProperties: any object (unbounded)
            s["additionalProperties"] = False
        return s, bound
    if k == "array":
        sub, b = rand_schema(rng, depth + 1, defs)
        hi = rng.randint(0, 3 if depth == 0 else 2)
        s = {"type": "array", "items": sub, "maxItems": hi}
        if rng.random() < 0.5:
            s["minItems"] = rng.randint(0, hi)
        return s, 2 + WS + hi * (b + 2 * WS + 1)
    if k in ("anyOf", "oneOf"):
        # oneOf branches of different types, so no output can match two
        a, ba = rand_schema(rng, depth + 1, defs)
        b = rng.choice([({"type": "boolean"}, 5), ({"type": "null"}, 4), ({"type": "integer", "minimum": 0}, 20)])
        if k == "oneOf":
            a, ba = {"type": "string", "maxLength": 4}, 26
        return {k: [a, b[0]]}, max(ba, b[1])
    if k == "nullable":
        a, ba = rand_schema(rng, depth + 1, defs)
        if "type" in a and isinstance(a["type"], str) and a["type"] != "null" and "enum" not in a and "const" not in a:
            a = dict(a, type=[a["type"], "null"])
            return a, max(ba, 4)
        return a, ba
    if k == "ref":
        sub, b = rand_schema(rng, depth + 1, defs)
        name = f"d{len(defs)}"
        defs[name] = sub
        return {"$ref": f"#/$defs/{name}"}, b
    raise AssertionError(k)


def schemas(count, seed, budget):
    rng = random.Random(seed)
    out = []
    while len(out) < count:
        defs = {}
        s, bound = rand_schema(rng, 0, defs)
        if defs:
            s = dict(s, **{"$defs": defs})
        if bound <= budget:
            jsonschema.Draft202012Validator.check_schema(s)
            out.append(s)
    return out


def test_two_hundred_random_schemas_validate(stories_server):
    """200 random schemas, each greedy and at temperature 1 (stories260K knows no JSON: every valid output is the
    constraint's doing). Each schema's longest output fits the token budget, so every run must complete."""
    c = client(stories_server)
    prompt = "Once upon a time"
    budget = 440
    cases = schemas(200, seed=14, budget=budget)

    def run(i):
        s = cases[i]
        results = []
        for temperature, seed in ((0, None), (1.0, 1000 + i)):
            field = ({"response_format": {"type": "json_schema", "json_schema": {"name": "s", "schema": s}}}
                     if i % 2 == 0 else {"guided_json": s})
            r = c.completions.create(model="stories260K", prompt=prompt, max_tokens=budget + 8, temperature=temperature,
                                     seed=seed, extra_body=field)
            results.append((temperature, r.choices[0].text, r.choices[0].finish_reason))
        return i, results

    with ThreadPoolExecutor(max_workers=8) as pool:
        done = list(pool.map(run, range(len(cases))))
    failures = []
    for i, results in done:
        for temperature, text, finish in results:
            try:
                assert finish == "stop", f"finish {finish}"
                jsonschema.validate(json.loads(text), cases[i], cls=jsonschema.Draft202012Validator)
            except Exception as e:
                failures.append((i, temperature, json.dumps(cases[i]), text, str(e)[:200]))
    assert not failures, f"{len(failures)} failures, first: {failures[:3]}"


def test_json_object_mode(stories_server):
    c = client(stories_server)
    for seed in range(5):
        r = c.completions.create(model="stories260K", prompt="Lily", max_tokens=300, temperature=1.0, seed=seed,
                                 extra_body={"response_format": {"type": "json_object"}})
        if r.choices[0].finish_reason == "stop":
            assert isinstance(json.loads(r.choices[0].text), dict)
        else:   # unbounded strings may run out of tokens; what was written is still a JSON prefix
            assert r.choices[0].text.lstrip().startswith("{")


def test_regex_and_choice_always_match(stories_server):
    c = client(stories_server)
    patterns = [r"[a-z]{3,8}( [a-z]{2,6}){0,3}\.", r"\d{3}-\d{3}-\d{4}", r"(cat|dog|bird)s? (ran|sat)",
                r"[A-Z][a-z]{1,6}, [A-Z][a-z]{1,6}!"]
    for i in range(24):
        p = patterns[i % len(patterns)]
        r = c.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=60,
                                 temperature=0 if i < 4 else 1.0, seed=i, extra_body={"guided_regex": p})
        assert re.fullmatch(p, r.choices[0].text), (p, r.choices[0].text)
        assert r.choices[0].finish_reason == "stop"
    options = ["happy", "sad", "a little sleepy"]
    seen = set()
    for i in range(20):
        r = c.completions.create(model="stories260K", prompt="Lily felt", max_tokens=40, temperature=1.5, seed=i,
                                 extra_body={"guided_choice": options})
        assert r.choices[0].text in options
        seen.add(r.choices[0].text)
    assert len(seen) > 1


CHESS = r'''
root    ::= "1. " move " " move "\n" ([1-9] [0-9]? ". " move " " move "\n")+
move    ::= (pawn | nonpawn | castle) [+#]?
nonpawn ::= [NBKQR] [a-h]? [1-8]? "x"? [a-h] [1-8]
pawn    ::= ([a-h] "x")? [a-h] [1-8] ("=" [NBKQR])?
castle  ::= "O-O" "-O"?
'''
MOVE = r"(([a-h]x)?[a-h][1-8](=[NBKQR])?|[NBKQR][a-h]?[1-8]?x?[a-h][1-8]|O-O(-O)?)[+#]?"

LIST = r'''
root ::= item{2,4}
item ::= "- " [a-z ]{1,12} "\n"
'''


def test_gbnf_grammars_constrain(stories_server):
    c = client(stories_server)
    chess_line = re.compile(rf"[1-9][0-9]?\. {MOVE} {MOVE}\n")
    for i in range(6):
        r = c.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=40, temperature=1.0, seed=i,
                                 extra_body={"grammar": CHESS})
        text = r.choices[0].text
        lines = re.findall(r"[^\n]*\n", text)
        assert text.startswith("1. ")
        complete = "".join(lines)
        assert all(chess_line.fullmatch(l) for l in lines), text
        assert text[len(complete):] == "" or r.choices[0].finish_reason == "length"
        r = c.completions.create(model="stories260K", prompt="Once upon a time", max_tokens=80, temperature=1.0, seed=i,
                                 extra_body={"guided_grammar": LIST})
        assert re.fullmatch(r"(- [a-z ]{1,12}\n){2,4}", r.choices[0].text), r.choices[0].text


def test_streamed_constrained_equals_unstreamed(stories_server):
    c = client(stories_server)
    schema = {"type": "object", "properties": {"a": {"type": "integer"}, "b": {"type": "string", "maxLength": 6}},
              "required": ["a", "b"], "additionalProperties": False}
    body = dict(model="stories260K", prompt="Lily", max_tokens=100, temperature=0, extra_body={"guided_json": schema})
    full = c.completions.create(**body).choices[0].text
    streamed = "".join(ch.choices[0].text for ch in c.completions.create(stream=True, **body) if ch.choices)
    assert streamed == full
    jsonschema.validate(json.loads(full), schema)


def test_uncompilable_constraints_are_400s_naming_the_place(stories_server):
    base = {"model": "stories260K", "prompt": "Lily", "max_tokens": 5}
    cases = [
        ({"response_format": {"type": "json_schema", "json_schema": {"name": "x", "schema": {"type": "object", "properties": {"a": {"type": "strin"}}}}}},
         "response_format.json_schema.schema.properties.a.type"),
        ({"guided_json": {"anyOf": [{"type": "string"}, {"not": {"type": "null"}}]}}, "guided_json.anyOf[1].not"),
        ({"guided_regex": "(unclosed"}, "guided_regex"),
        ({"grammar": "root ::= missing"}, "grammar"),
        ({"guided_choice": []}, "guided_choice"),
        ({"response_format": {"type": "xml"}}, "response_format.type"),
        ({"guided_regex": "a", "guided_choice": ["b"]}, "guided_choice"),
    ]
    for extra, param in cases:
        status, body = post(stories_server, "/v1/completions", dict(base, **extra))
        assert status == 400, (extra, body)
        assert body["error"]["param"] == param, (extra, body)
        assert body["error"]["type"] == "invalid_request_error"


# ---------- SmolLM2: parse with Pydantic, tools ----------

class City(pydantic.BaseModel):
    name: str = pydantic.Field(max_length=30)
    country: str = pydantic.Field(max_length=30)
    population_millions: float
    kind: Literal["capital", "town"]
    landmark: Optional[str] = pydantic.Field(default=None, max_length=40)


def test_parse_with_pydantic(smol_server):
    c = client(smol_server)
    r = c.beta.chat.completions.parse(model="smollm2", temperature=0, max_tokens=200, response_format=City,
                                      messages=[{"role": "user", "content": "Describe Paris as JSON."}])
    city = r.choices[0].message.parsed
    assert isinstance(city, City), r.choices[0].message.content
    assert r.choices[0].finish_reason == "stop"


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Current weather in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40},
                                                   "unit": {"enum": ["celsius", "fahrenheit"]}},
                   "required": ["city", "unit"], "additionalProperties": False}}}
TIME = {"type": "function", "function": {
    "name": "get_time", "description": "Current local time in a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string", "maxLength": 40}}, "required": ["city"]}}}


def check_call(call, tools=(WEATHER, TIME)):
    assert call.type == "function" and call.id
    fn = {t["function"]["name"]: t["function"]["parameters"] for t in tools}
    assert call.function.name in fn
    jsonschema.validate(json.loads(call.function.arguments), fn[call.function.name])


def test_tool_round_trip(smol_server):
    c = client(smol_server)
    msgs = [{"role": "user", "content": "What is the weather in Paris?"}]
    r = c.chat.completions.create(model="smollm2", messages=msgs, tools=[WEATHER, TIME], tool_choice="required",
                                  temperature=0, max_tokens=120)
    m = r.choices[0].message
    assert r.choices[0].finish_reason == "tool_calls"
    assert m.tool_calls and m.content is None
    for call in m.tool_calls:
        check_call(call)
    # the tool's answer goes back; the model replies in text
    msgs += [{"role": "assistant", "content": None, "tool_calls": [tc.model_dump() for tc in m.tool_calls]}]
    msgs += [{"role": "tool", "tool_call_id": tc.id, "content": json.dumps({"temperature": 18, "sky": "cloudy"})}
             for tc in m.tool_calls]
    r2 = c.chat.completions.create(model="smollm2", messages=msgs, tools=[WEATHER, TIME], tool_choice="none",
                                   temperature=0, max_tokens=40)
    assert r2.choices[0].message.content and not r2.choices[0].message.tool_calls


def test_tool_calls_streamed_like_openai(smol_server):
    c = client(smol_server)
    kw = dict(model="smollm2", messages=[{"role": "user", "content": "What time is it in Tokyo?"}],
              tools=[WEATHER, TIME], tool_choice={"type": "function", "function": {"name": "get_time"}},
              temperature=0, max_tokens=80)
    full = c.chat.completions.create(**kw)
    calls, finish = {}, None
    for ch in c.chat.completions.create(stream=True, **kw):
        if not ch.choices:
            continue
        d = ch.choices[0].delta
        for tc in d.tool_calls or []:
            e = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
            if tc.id:
                e["id"] = tc.id
            if tc.function and tc.function.name:
                e["name"] = tc.function.name
            if tc.function and tc.function.arguments:
                e["arguments"] += tc.function.arguments
        finish = ch.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert len(calls) == 1 and calls[0]["name"] == "get_time" and calls[0]["id"].startswith("call_")
    assert calls[0]["arguments"] == full.choices[0].message.tool_calls[0].function.arguments
    jsonschema.validate(json.loads(calls[0]["arguments"]), TIME["function"]["parameters"])


def test_tool_choice_errors(smol_server):
    base = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    for extra, param in [
        ({"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice.function.name"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]}, "tools[0].function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}], "tool_choice": "required"},
         "tools[0].function.parameters.type"),
        ({"tool_choice": "required"}, "tool_choice"),
    ]:
        status, body = post(smol_server, "/v1/chat/completions", dict(base, **extra))
        assert status == 400, (extra, body)
        assert body["error"]["param"] == param, (extra, body)
