from supertest_operator.entry import run

run()
