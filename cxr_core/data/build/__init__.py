"""Building a paper's data set from the public sources in their download layouts."""
