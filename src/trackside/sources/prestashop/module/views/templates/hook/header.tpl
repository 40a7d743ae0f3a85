{* trackside: t.js, consent wiring and join tokens, rendered by trackside_header_snippet() *}
{$trackside_snippet nofilter}
