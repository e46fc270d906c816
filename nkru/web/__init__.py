"""The analyst's web view (`nkru serve`) and the pieces the static report (`nkru report`) shares with it."""
