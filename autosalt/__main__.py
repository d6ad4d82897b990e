from autosalt.cli import main

raise SystemExit(main())
