from hang.cli.main import main

raise SystemExit(main())
