from chute_ops.cli import main

main()
