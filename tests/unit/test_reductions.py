"""Every reduction of §8.4 on small fact lists, the facts seen (§8.3) and filters (§3.7)."""

from __future__ import annotations

import datetime as dt
import math

from ivory.dictionary import FeatureId, Window, parse_dictionary
from ivory.reductions import Fact, build_groups, evaluate, render_result, squash_group, window_steps
from ivory.values import TOMBSTONE

D = dt.date
END = D(2014, 7, 1)  # with a 2-month window: start 2014-05-01, L = 62 (§8.4)
T = TOMBSTONE


def group(encoding: str, expression: str, mode: str = "set", window: str = "2 months",
          filter_: str | None = None):
    text = f"ns:c|encoding={encoding}|mode={mode}\n"
    text += f"ns:v|source=ns:c|expression={expression}"
    text += f"|window={window}" if window else ""
    text += f"|filter={filter_}" if filter_ else ""
    return build_groups(parse_dictionary(text + "\n"))[FeatureId("ns", "c")]


def run(encoding, expression, facts, mode="set", window="2 months", filter_=None, end=END):
    g = group(encoding, expression, mode, window, filter_)
    return evaluate(g.virtuals[0], facts, g.is_state, end)


def text(encoding, expression, facts, **kw):
    g = group(encoding, expression, kw.get("mode", "set"), kw.get("window", "2 months"))
    value = run(encoding, expression, facts, **kw)
    return None if value is None else render_result(g.virtuals[0].render, value)


def f(date, value, seconds=0):
    return Fact(date, seconds, value)


MAY2, JUN2 = D(2014, 5, 2), D(2014, 6, 2)


# --- §8.3 facts seen ------------------------------------------------------------------------

def test_state_sees_the_last_fact_before_the_window_or_a_synthetic_tombstone_section_8_3():
    facts = [f(D(2014, 4, 1), 1), f(D(2014, 4, 2), 2), f(MAY2, 3)]
    steps = window_steps(facts, True, D(2014, 5, 1), END)
    assert [(s.fact.value, s.skip, s.carried) for s in steps] == [
        (1, "state-window", False), (2, None, True), (3, None, False)]
    steps = window_steps([f(MAY2, 3)], True, D(2014, 5, 1), END)
    assert steps[0].synthetic and steps[0].fact == Fact(D(2014, 5, 1), 0, T)
    sets = window_steps(facts, False, D(2014, 5, 1), END)
    assert [s.skip for s in sets] == ["set-window", "set-window", None]


def test_window_is_start_exclusive_end_inclusive_section_8_1():
    facts = [f(D(2014, 5, 1), 1), f(END, 2), f(D(2014, 7, 2), 3)]
    assert run("int", "count", facts) == 1


def test_no_window_means_start_is_the_end_section_8_1():
    assert run("int", "count", [f(MAY2, 1)], window="") == 0  # set: nothing inside
    assert run("int", "latest", [f(MAY2, 1)], mode="state", window="") == 1


# --- §8.4 reductions ------------------------------------------------------------------------

def test_latest_and_tombstone_is_null_section_8_4():
    assert run("string", "latest", [f(MAY2, "a"), f(JUN2, "b")]) == "b"
    assert run("string", "latest", [f(MAY2, "a"), f(JUN2, T)]) is None
    assert run("string", "latest", []) is None


def test_latest_field_of_structs_section_8_4():
    enc = "(a:string,b:int*)"
    assert run(enc, "latest,b", [f(MAY2, {"a": "x", "b": 1}), f(JUN2, {"a": "y"})]) == 1
    assert run(enc, "latest,b", [f(MAY2, {"a": "x"})]) is T  # no fact carried the field
    assert run(enc, "latest,b", [f(MAY2, {"a": "x", "b": 1}), f(JUN2, T)]) is T


def test_latest_n_newest_first_section_8_4():
    facts = [f(MAY2, "a"), f(D(2014, 5, 3), T), f(JUN2, "b"), f(D(2014, 6, 3), "c")]
    assert text("string", "latestN,2", facts) == '["c","b"]'
    assert text("string", "latestN,2", []) == "[]"
    enc = "(common_name:string,size:double)"
    assert text(enc, "latestN,1", [f(MAY2, {"common_name": "W", "size": 66.0})]) == \
        '[{"common_name":"W","size":66.0}]'


def test_count_sum_min_max_mean_section_8_4():
    facts = [f(MAY2, 3), f(D(2014, 5, 3), T), f(JUN2, -1)]
    assert run("int", "count", facts) == 2
    assert run("int", "sum", facts) == 2
    assert run("int", "min", facts) == -1 and run("int", "max", facts) == 3
    assert run("int", "mean", facts) == 1.0
    assert run("int", "sum", []) == 0 and run("double", "sum", []) == 0.0
    assert run("int", "min", []) == 0 and run("double", "mean", []) == 0.0


def test_int_sum_is_a_64_bit_long_section_8_4():
    big = 2**31 - 1
    assert run("int", "sum", [f(MAY2, big), f(JUN2, big)]) == 2 * big
    assert run("long", "sum", [f(MAY2, 2**63 - 1), f(JUN2, 1)]) == -(2**63)  # wraps


def test_doubles_accumulate_in_fact_order_section_8_4():
    facts = [f(MAY2, 0.1), f(D(2014, 5, 3), 0.2), f(JUN2, 0.3)]
    assert run("double", "sum", facts) == (0.1 + 0.2) + 0.3


def test_std_dev_population_form_section_8_4():
    assert run("double", "std_dev", [f(MAY2, 1.0)]) == 0.0
    assert run("double", "std_dev", [f(MAY2, 1.0), f(JUN2, 3.0)]) == 1.0


def test_gradient_against_day_numbers_section_8_4():
    assert run("double", "gradient", [f(MAY2, 1.0), f(D(2014, 5, 4), 3.0)]) == 1.0
    assert run("double", "gradient", [f(MAY2, 1.0)]) == 0.0  # z = 0


def test_count_unique_and_num_flips_section_8_4():
    assert run("string", "count_unique", [f(MAY2, "a"), f(JUN2, "a"), f(END, T)]) == 1
    # value->value, value->tombstone, tombstone->tombstone (no), tombstone->value
    facts = [f(MAY2, "a"), f(D(2014, 5, 3), "b"), f(D(2014, 5, 4), T), f(D(2014, 5, 5), T),
             f(D(2014, 5, 6), "b"), f(D(2014, 5, 7), "b")]
    assert run("string", "num_flips", facts) == 3


def test_proportion_counts_tombstones_in_the_total_section_8_4():
    assert run("string", "proportion,a", [f(MAY2, "a"), f(JUN2, T)]) == 0.5
    assert run("string", "proportion,a", []) == 0.0
    assert run("int", "proportion,7", [f(MAY2, 7), f(JUN2, 8)]) == 0.5


def test_count_by_and_keyed_maps_section_8_4():
    assert text("string", "count_by", [f(MAY2, "a"), f(JUN2, "b"), f(END, "a")]) == \
        '{"b":1,"a":2}'
    assert text("int", "count_by", [f(MAY2, 1), f(JUN2, 1)]) == '{"1":2}'
    assert text("string", "count_by", []) == "{}"
    enc = "(k:string,v:string,n:double)"
    facts = [f(MAY2, {"k": "x", "v": "p", "n": 1.5}), f(JUN2, {"k": "x", "v": "q", "n": 2.0}),
             f(END, {"k": "y", "v": "p", "n": 1.0})]
    assert run(enc, "count_by,k,v", facts) == {"x": 2, "y": 1}
    assert run(enc, "sum_by,k,n", facts) == {"x": 3.5, "y": 1.0}


def test_days_since_by_maps_clamp_to_the_start_section_8_4():
    facts = [f(D(2014, 4, 1), "a"), f(MAY2, "b"), f(JUN2, "b")]
    assert run("string", "days_since_latest_by", facts, mode="state") == {"a": 61, "b": 29}
    assert run("string", "days_since_earliest_by", facts, mode="state") == {"a": 61, "b": 60}


def test_days_since_latest_earliest_and_days_since_section_8_4():
    assert run("int", "days_since_latest", [f(MAY2, 1), f(JUN2, T)]) == 60
    assert run("int", "days_since_earliest", [f(JUN2, T)]) is None
    assert run("date", "days_since", [f(MAY2, D(2014, 6, 21))]) == 10  # the value, not the date
    assert run("date", "days_since", [f(MAY2, D(2014, 6, 21)), f(JUN2, T)]) is T


def test_day_buckets_section_8_4():
    facts = [f(MAY2, 1), f(MAY2, 2, seconds=5), f(JUN2, 3), f(JUN2, T)]
    assert run("int", "count_days", facts) == 2
    assert run("int", "maximum_in_days", facts) == 2
    assert run("int", "minimum_in_days", facts) == 1
    assert run("int", "mean_in_days", facts) == 3 / 62
    assert run("int", "minimum_in_days", []) == 0


def test_week_buckets_use_only_complete_weeks_section_8_4():
    # L = 62: 8 buckets over the 56 most recent days; a fact 60 days before E is ignored.
    facts = [f(MAY2, 1), f(JUN2, 2), f(D(2014, 6, 3), 3), f(END, 4)]
    assert run("int", "maximum_in_weeks", facts) == 2
    assert run("int", "minimum_in_weeks", facts) == 1
    assert run("int", "mean_in_weeks", facts) == 3 / 8


def test_quantiles_section_8_4():
    # days: 62 buckets, one with 1 -> sorted [0]*61 + [1]; a = 1/1 * 61 -> s[61] = 1
    assert run("int", "quantile_in_days,1,1", [f(JUN2, 1)]) == 1.0
    # a = 1/2 * 61 = 30.5 -> 0.0 * 0.5 + 0.0 * 0.5
    assert run("int", "quantile_in_days,1,2", [f(JUN2, 1)]) == 0.0
    # weeks: 8 buckets [0]*6 + [1, 2]: a = 3/4 * 7 = 5.25 -> s[5]*0.75 + s[6]*0.25 = 0.25
    facts = [f(END, 1), f(D(2014, 6, 30), 2), f(D(2014, 6, 20), 3)]
    assert run("int", "quantile_in_weeks,3,4", facts) == 0.25


def test_interval_between_consecutive_facts_section_8_4():
    facts = [f(MAY2, 1), f(D(2014, 5, 4), 2), f(D(2014, 5, 10), T), f(D(2014, 5, 12), 3)]
    assert run("int", "interval,min", facts) == 2
    assert run("int", "interval,max", facts) == 8
    assert run("int", "interval,mean", facts) == 5.0
    assert run("int", "interval,std_dev", facts) == 3.0
    assert run("int", "interval,max", [f(MAY2, 1)]) == 0


def test_inverse_section_8_4():
    assert run("string", "inverse,count", [f(MAY2, "a"), f(JUN2, "b")]) == 0.5
    assert math.isnan(run("string", "inverse,count", []))  # printed NaN
    assert text("string", "inverse,num_flips", []) == "NaN"
    assert run("date", "inverse,days_since", [f(MAY2, D(2014, 6, 21)), f(JUN2, T)]) is T


def test_latest_by_orders_keys_by_a_16_bucket_java_map_section_8_4():
    enc = "(common_name:string,size:double)"
    facts = [f(MAY2, {"common_name": "Wahoo", "size": 250.0}),
             f(JUN2, {"common_name": "Blue mackerel", "size": 43.2}),
             f(END, {"common_name": "Wahoo", "size": 1.0})]
    assert text(enc, "latest_by,common_name", facts) == (
        '[{"common_name":"Blue mackerel","size":43.2},{"common_name":"Wahoo","size":1.0}]')


def test_union_insertion_order_up_to_four_then_hash_set_order_section_8_4():
    facts = [f(MAY2, ["b", "a"]), f(JUN2, ["c", "a", "d"])]
    assert run("[string]", "union", facts) == ["b", "a", "c", "d"]
    many = run("[int]", "union", [f(MAY2, [5, 4, 3, 2, 1])])
    assert sorted(many) == [1, 2, 3, 4, 5] and many != [5, 4, 3, 2, 1]


def test_proportion_by_time_section_8_4():
    facts = [f(MAY2, 1, seconds=9 * 3600), f(JUN2, T, seconds=20 * 3600)]
    assert run("int", "proportion_by_time,8,17", facts) == 0.5


def test_filters_apply_after_the_window_and_tombstones_never_pass_section_3_7():
    facts = [f(MAY2, 17), f(D(2014, 5, 3), 18), f(JUN2, 22), f(END, T)]
    flt = "or,(and,18),19,(and,(>=,20),(<,25))"
    assert run("int", "count", facts, filter_=flt) == 2
    assert run("int", "proportion,18", facts, filter_=flt) == 0.5  # the tombstone is out
    enc = "(name:string,age:int)"
    people = [f(MAY2, {"name": "x", "age": 20}), f(JUN2, {"name": "y", "age": 17})]
    assert run(enc, "count", people, filter_="and,age,(>=,18)") == 1


def test_squash_group_emits_concrete_latest_first_then_virtuals_section_8_2():
    d = parse_dictionary("ns:c|encoding=int\n"
                         "ns:a|source=ns:c|expression=count|window=1 day\n"
                         "ns:b|source=ns:c|expression=days_since_latest|window=1 day\n")
    g = build_groups(d)[FeatureId("ns", "c")]
    out = squash_group(g, [f(MAY2, 5)], END)
    # state: the carried-in 05-02 fact is seen; its date clamps to the start (06-30)
    assert [(str(fid), value) for fid, _, value in out] == [
        ("ns:c", 5), ("ns:b", 1), ("ns:a", 1)]  # reverse order of the lines (§8.5)
    assert Window(1, "day").render() == "1 day"


def test_mode_de_duplication_and_order_section_6_7_2():
    from ivory.dictionary import Mode
    from ivory.reductions import order_facts

    same = D(2014, 6, 2)
    facts = [(f(same, "low"), 2), (f(same, "high"), 1), (f(MAY2, "early"), 3)]
    assert [x.value for x in order_facts(facts, Mode("state"))] == ["early", "high"]
    assert [x.value for x in order_facts(facts, Mode("set"))] == ["early", "high", "low"]
    keyed = [(f(same, {"a": "x", "n": 1}), 2), (f(same, {"a": "x", "n": 2}), 1),
             (f(same, {"a": "y", "n": 3}), 3)]
    assert [x.value["n"] for x in order_facts(keyed, Mode("keyed_set", ("a",)))] == [2, 3]


def test_thrift_result_types_section_9_4() -> None:
    """§9.4 (and §8.4): a virtual feature's ThriftFactValue -- int ``sum`` as i64 although
    the dictionary says int, ``count`` i64, ``count_by`` counts i64, ``days_since_*_by``
    i32, int ``sum_by`` i32, doubles as double, lists typed by their source, tombstones
    kept."""
    from ivory.reductions import thrift_result

    def virtual(encoding: str, expression: str):
        return group(encoding, expression).virtuals[0]

    assert thrift_result(virtual("int", "sum"), 9).primitive.l == 9
    assert thrift_result(virtual("int", "count"), 2).primitive.l == 2
    assert thrift_result(virtual("int", "mean"), 2.0).primitive.d == 2.0
    assert thrift_result(virtual("int", "latestN,2"), [5, 4]).lst.l[0].p.i == 5
    assert thrift_result(virtual("string", "count_by"), {"a": 1}).strct.v["a"].l == 1
    assert thrift_result(virtual("string", "days_since_latest_by"),
                         {"a": 3}).strct.v["a"].i == 3
    assert thrift_result(virtual("(k:string,x:int)", "sum_by,k,x"),
                         {"a": 3}).strct.v["a"].i == 3
    assert thrift_result(virtual("(k:string,x:int*)", "latest,x"), T).tombstone is not None
    assert thrift_result(virtual("(k:string,x:int*)", "latest,x"), 4).primitive.i == 4


def test_render_result_deprecated_section_9_1() -> None:
    """§9.1: results render in the deprecated text format on request."""
    g = group("string", "latestN,2")
    assert render_result(g.virtuals[0].render, ["b", "a"], text_format="deprecated") == "[b,a]"
    assert render_result(g.virtuals[0].render, ["b", "a"]) == '["b","a"]'
