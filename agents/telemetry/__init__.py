"""What operators watch: Prometheus metrics (``metrics``) and OpenTelemetry traces (``tracing``).

Both are written to by the engine and read by the HTTP layer; they import no
other part of ``agents``, so every layer may use them.
"""
