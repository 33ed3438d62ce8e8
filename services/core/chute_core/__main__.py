from chute_core.cli import main

main()
