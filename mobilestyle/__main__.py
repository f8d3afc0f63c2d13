from mobilestyle.cli import main

main()
