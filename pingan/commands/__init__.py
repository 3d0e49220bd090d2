"""The `pingan` subcommands, each a thin layer over the hub code it drives."""
