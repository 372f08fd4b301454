"""
turkbatch's benchmarks: every figure a ratio against a baseline measured in the same run.

``python -m benchmarks`` measures, each in its own processes and against a simulator in a
process of its own, how close ``turkbatch run`` comes to what its stack allows::

    engine_overhead_ratio   turkbatch run ÷ a bare aiobotocore loop, same concurrency
    latency_hiding_ratio    turkbatch run ÷ a sequential boto3 loop, 100 ms latency
    adaptive_rate_ratio     successful ops/s ÷ a simulator throttling at 100 requests/s
    throttled_fraction      throttled ÷ all requests in that run
    memory_growth_ratio     peak RSS of a 100,000-op run ÷ that of a 10,000-op run
    peak_rss_mb             the largest peak RSS of the big runs, scans and resume
    resume_scan_ratio       loading a 1,000,000-record journal ÷ a bare orjson loop over it
    validate_ratio          validating a 1,000,000-line job ÷ a bare orjson loop over it
    first_call_ratio        starting turkbatch run on a 1,000,000-line job to its first
                            SendBonus ÷ a bare orjson loop over the job
    sim_capacity_ratio      a raw-socket load generator ÷ one aiobotocore client process

See ``python -m benchmarks --help`` and the README's Benchmarks section.
"""
