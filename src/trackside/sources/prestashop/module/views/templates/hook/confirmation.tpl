{* trackside: the signed purchase, rendered by trackside_confirmation_snippet() *}
{$trackside_snippet nofilter}
