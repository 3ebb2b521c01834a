"""Native inference: the client endpoints, the request pipeline and the client->upstream pair table."""
