"""One module per report kind, each with ``render(report: Mapping) -> str`` (see
:data:`perfkit.html.PAGES`)."""
