"""tools/bench's parts: spec (what is run and judged), build, runner, results, report, chart."""
