"""The Streamlit app: "Image Gen" and "Chat" tabs over the agent endpoint and the Files API."""
