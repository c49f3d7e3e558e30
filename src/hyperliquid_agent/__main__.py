from hyperliquid_agent.cli import main

main()
