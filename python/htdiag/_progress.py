"""Progress of an analysis: the Rust core calls ``callback(event, value)`` with the GIL held
(``("start", rows)`` once, then ``("row", name)`` after each finished row)."""


def make(progress):
    """A callback for ``progress`` (True: a tqdm bar when tqdm is installed; a callable: used
    as it is; False/None: none), and a function closing the bar."""
    if callable(progress):
        return progress, lambda: None
    if not progress:
        return None, lambda: None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None, lambda: None
    bar = tqdm(total=0, desc="htdiag", unit="layer", leave=False)

    def callback(event, value):
        if event == "start":
            bar.reset(total=value)
        elif event == "row":
            bar.set_postfix_str(str(value), refresh=False)
            bar.update(1)

    def close():
        bar.refresh()  # draw the final count, which the rate limit may have skipped
        bar.close()

    return callback, close
