from intentloop_operator.cli import main

main()
