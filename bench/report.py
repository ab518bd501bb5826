"""The bench's table: each figure per backend, next to its goal (issue 9), with a pass/fail mark."""

PASS, FAIL = "ok", "MISS"


def _mark(value: float | None, goal: float, at_most: bool) -> str:
    if value is None:
        return "?"
    return PASS if (value <= goal if at_most else value >= goal) else FAIL


def rows(results: dict) -> list[tuple[str, str, dict[str, str]]]:
    """(figure, goal, {backend: cell}) for every figure."""
    table = []

    def add(name: str, goal: str, cell) -> None:
        table.append((name, goal, {backend: cell(figures) for backend, figures in results["backends"].items()}))

    for route, goal in (("simple", 1.3), ("complex", 1.5)):

        def latency(figures, route=route, goal=goal):
            item = figures["latency"][route]
            platform, sdk = item["platform_ms"]["p50"], item["sdk_ms"]["p50"]
            ratio = item["ratio_p50"]
            return f"{ratio:.2f}x ({platform:.1f}/{sdk:.1f} ms) {_mark(ratio, goal, True)}"

        add(f"{route} run POST->done / bare SDK, p50", f"<= {goal}x", latency)

    def per_core(figures):
        item = figures["throughput"]
        value = item["platform_per_cpu_s"]
        return f"{value:.1f} (wall {item['platform_per_wall_s']:.1f}/s) {_mark(value, 40, False)}"

    add("complex runs per server CPU-second", ">= 40", per_core)
    add(
        "  (the bare SDK: runs per client CPU-second)",
        "",
        lambda f: f"{f['throughput']['sdk_per_cpu_s']:.1f} (wall {f['throughput']['sdk_per_wall_s']:.1f}/s)",
    )

    def fanout(figures):
        ratio = figures["fanout"]["ratio_p99"]
        platform, floor = (figures["fanout"][side]["latency_ms"]["p99"] for side in ("platform", "bare"))
        return f"{ratio:.2f}x ({platform:.1f}/{floor:.1f} ms) {_mark(ratio, 1.2, True)}"

    add("emit->client p99 / bare SSE", "<= 1.2x", fanout)
    add(
        "  (deliveries per second: platform / bare)",
        "~25000",
        lambda f: f"{f['fanout']['platform']['deliveries_per_s']} / {f['fanout']['bare']['deliveries_per_s']}",
    )
    add(
        "  (emit->client p50: platform / bare)",
        "",
        lambda f: (
            f"{f['fanout']['platform']['latency_ms']['p50']:.1f} / {f['fanout']['bare']['latency_ms']['p50']:.1f} ms"
        ),
    )

    def replay(figures):
        item = figures["replay"]
        whole, mark = item["whole_replay_ms"]["p50"], _mark(item["server_ms"], 5, True)
        return f"{item['server_ms']:.1f} ms (whole {whole:.1f} ms, {item['events']} ev) {mark}"

    add("replay of 1,000 stored events, server time", "<= 5 ms", replay)

    def memory(figures):
        item = figures["idle"]
        return f"{item['kb_per_stream']:.1f} KB {_mark(item['kb_per_stream'], 40, True)}"

    idle = next(iter(results["backends"].values()))["idle"]["streams"]
    add(f"idle stream memory ({idle} streams)", "<= 40 KB", memory)
    add(
        "  threads added by the idle streams",
        "0",
        lambda f: f"{f['idle']['threads_added']} {_mark(f['idle']['threads_added'], 0, True)}",
    )
    add(
        "  DB connections added by the idle streams",
        "0",
        lambda f: f"{f['idle']['connections_added']} {_mark(f['idle']['connections_added'], 0, True)}",
    )
    return table


def print_table(results: dict) -> None:
    backends = list(results["backends"])
    table = rows(results)
    hop = results["redis_hop"]
    head = ("figure (ratio: platform / floor)", "goal", *backends)
    lines = [(name, goal, *(cells.get(backend, "") for backend in backends)) for name, goal, cells in table]
    added = hop["added_p99_ms"]
    p99s = f"p99 {hop['redis']['p99_ms']:.2f} vs {hop['local']['p99_ms']:.2f}; p50 +{hop['added_p50_ms']:.2f}"
    hop_cell = f"+{added:.2f} ms ({p99s}) {_mark(added, 1, True)}"
    lines.append(("Redis bus hop, p99 added to LocalBus", "<= 1 ms", hop_cell, *[""] * (len(backends) - 1)))
    widths = [max(len(str(row[i])) for row in [head, *lines]) for i in range(len(head))]
    setup = results["setup"]
    print(f"\nbench ({'QUICK, ' if setup['quick'] else ''}{setup['pinning']}; {setup['cpus']} CPUs, shared machine)")
    for row in [head, *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
