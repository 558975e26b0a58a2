print("originaudit")
