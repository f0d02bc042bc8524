from openesp.cli import main

main()
