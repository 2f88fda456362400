import io

from server.log import Log


def test_each_line_is_one_line_stamped_with_the_utc_time_of_day():
    stream = io.StringIO()
    Log(stream).waiting()
    text = stream.getvalue()
    assert text.count("\n") == 1 and text.endswith("server waiting for a connection\n")
    assert text[2] == ":" and text[8] == "."  # HH:MM:SS.mmm
