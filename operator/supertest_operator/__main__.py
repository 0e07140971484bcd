from supertest_operator.main import run

run()
