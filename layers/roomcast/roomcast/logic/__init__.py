"""Domain logic: no raw Lambda events, no boto3 calls (those are the DAL's and the gateway's)."""
