from .soak import run_soak


def test_soak_kills_and_a_redis_restart_lose_nothing():
    # Given 5,000 short tasks and 4 workers, one SIGKILLed and restarted every second for 10 s,
    # and Redis stopped and restarted once halfway
    report = run_soak()
    print(report.summary())
    # Then every task ran, none is left, and only tasks in flight at a kill ran twice
    assert (report.lost, report.pending, report.active, report.failed, report.dead) == (0, 0, 0, 0, 0)
    assert report.ran == report.tasks == 5000
    assert report.kills >= 9
    assert report.duplicated <= report.in_flight_at_kills
