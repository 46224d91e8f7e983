"""What to fetch and when: the feed list, the conditional-GET poller, the feed parser."""
