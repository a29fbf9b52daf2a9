from radiusd.cli.main import main

main()
