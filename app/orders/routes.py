"""Order pages."""
