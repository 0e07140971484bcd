from supertest_operator.app import run

run()
