from supertest_runner.cli import main

raise SystemExit(main())
