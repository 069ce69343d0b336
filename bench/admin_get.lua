-- wrk script of bench/suite.py: GET requests as the admin, whose token is TOKENS.
wrk.headers["Authorization"] = "Bearer " .. os.getenv("TOKENS")
